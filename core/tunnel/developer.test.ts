import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request, startHarness, userRoute, waitFor, type Harness } from '../../test/fixtures/sidecar-harness.js';
import { serveTunnel, TunnelRefusedError, type TunnelStatus } from './developer.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.setRoutes([userRoute('alice', 'alice-token')]);
});
afterAll(async () => { await h.close(); });

describe('serveTunnel', () => {
  it('reconnects after the sidecar drops the tunnel, and stops on request', async () => {
    const states: TunnelStatus['state'][] = [];
    const handle = serveTunnel({ url: h.tunnelUrl, token: 'alice-token', target: h.laptop.url, initialDelayMs: 10, onStatus: (s) => states.push(s.state) });
    await waitFor(() => h.sidecar.registry.count('shop/alice') === 1, 'the first tunnel');
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('laptop');
    h.sidecar.registry.all()[0]!.close(1001, 'test drops it');
    await waitFor(() => states.filter((s) => s === 'connected').length === 2 && h.sidecar.registry.count('shop/alice') === 1, 'the reconnect');
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('laptop');
    await handle.stop();
    await handle.done;
    expect(states.at(-1)).toBe('stopped');
    await waitFor(() => h.sidecar.registry.count('shop/alice') === 0, 'the tunnel to leave');
  });

  it('gives up for good when the token is refused', async () => {
    const states: TunnelStatus[] = [];
    const handle = serveTunnel({ url: h.tunnelUrl, token: 'wrong', target: h.laptop.url, onStatus: (s) => states.push(s) });
    await expect(handle.done).rejects.toBeInstanceOf(TunnelRefusedError);
    expect(states.at(-1)).toMatchObject({ state: 'refused', status: 403 });
  });
});
