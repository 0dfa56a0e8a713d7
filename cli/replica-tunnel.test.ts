// The CLI's live reconnect loop (keepTunnel) against a real sidecar: reconnects after the sidecar
// drops the tunnel, stops on request, says why a refused token was refused and re-reads the Secret.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectTunnel } from '../core/tunnel/developer.js';
import { request, startHarness, userRoute, waitFor, type Harness } from '../test/fixtures/sidecar-harness.js';
import { keepTunnel } from './replica-tunnel.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.setRoutes([userRoute('alice', 'alice-token')]);
});
afterAll(async () => { await h.close(); });

function keep(token: string) {
  const lines: string[] = [];
  let refreshed = 0;
  const kept = keepTunnel({
    label: 'checkout-1', random: () => 0, onRequest: () => undefined,
    refreshToken: () => { refreshed++; },
    connect: (onRequest) => connectTunnel({ url: h.tunnelUrl, token, target: h.laptop.url, onRequest }),
    screen: { info: (l) => lines.push(`info ${l}`), warn: (l) => lines.push(`warn ${l}`) },
  });
  return { kept, lines, refreshed: () => refreshed };
}

describe('keepTunnel', () => {
  it('reconnects after the sidecar drops the tunnel, and stops on request', async () => {
    const { kept, lines } = keep('alice-token');
    await waitFor(() => h.sidecar.registry.count('shop/alice') === 1, 'the first tunnel');
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('laptop');
    h.sidecar.registry.all()[0]!.close(1001, 'test drops it');
    await waitFor(() => lines.filter((l) => l === 'info Connected tunnel to checkout-1').length === 2 && h.sidecar.registry.count('shop/alice') === 1, 'the reconnect');
    expect(lines).toContainEqual(expect.stringMatching(/^warn Lost tunnel to checkout-1 \(1001 test drops it\); reconnecting in/));
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('laptop');
    await kept.stop();
    expect(kept.current).toBeUndefined();
    await waitFor(() => h.sidecar.registry.count('shop/alice') === 0, 'the tunnel to leave');
    const after = lines.length;
    await new Promise((r) => setTimeout(r, 300)); // longer than the backoff: nothing reconnects
    expect(lines.length).toBe(after);
    expect(h.sidecar.registry.count('shop/alice')).toBe(0);
  });

  it('says why the token was refused and re-reads the Secret before retrying', async () => {
    const { kept, lines, refreshed } = keep('wrong');
    try {
      await waitFor(() => refreshed() >= 2, 'two refused attempts');
      expect(lines[0]).toMatch(/^warn Tunnel to checkout-1 refused: the sidecar does not route this Intercept with this token \(yet\) — .*; retrying in/);
      expect(h.sidecar.registry.all()).toHaveLength(0);
    } finally {
      await kept.stop();
    }
  });
});
