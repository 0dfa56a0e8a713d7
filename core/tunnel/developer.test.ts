import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request, startHarness, userRoute, waitFor, type Harness } from '../../test/fixtures/sidecar-harness.js';
import { randomFillSync } from 'node:crypto';
import { connectTunnel, maskingProtectsNothing } from './developer.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.setRoutes([userRoute('alice', 'alice-token')]);
});
afterAll(async () => { await h.close(); });

describe('WebSocket masking', () => {
  it('is skipped only where there can be no intermediary (loopback); TLS keeps RFC 6455 masking', () => {
    for (const url of ['ws://127.0.0.1:15021/tunnel', 'ws://127.3.2.1/tunnel', 'ws://localhost:8080/tunnel', 'ws://[::1]:15021/tunnel']) {
      expect([url, maskingProtectsNothing(url)]).toEqual([url, true]);
    }
    for (const url of ['wss://api.example:6443/api/v1/namespaces/a/pods/p:15021/proxy/tunnel', 'ws://10.0.0.7:15021/tunnel', 'ws://sidecar.shop.svc:15021/tunnel', 'ws://127.0.0.1.example.com/tunnel', 'not a url']) {
      expect([url, maskingProtectsNothing(url)]).toEqual([url, false]);
    }
  });

  it('a tunnel with random masking keys (any non-loopback ws:// URL) serves requests as well', async () => {
    let masks = 0;
    const tunnel = await connectTunnel({
      url: h.tunnelUrl, token: 'alice-token', target: h.laptop.url,
      webSocketOptions: { generateMask: (m: Buffer) => { masks++; randomFillSync(m); } },
    });
    try {
      await waitFor(() => h.sidecar.registry.count('shop/alice') === 1, 'the tunnel');
      const res = await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } });
      expect(res.json().pod).toBe('laptop');
      expect(masks).toBeGreaterThan(0);
    } finally {
      await tunnel.close();
      await waitFor(() => h.sidecar.registry.count('shop/alice') === 0, 'the tunnel to leave');
    }
  });
});

describe('connectTunnel', () => {
  it('resolves only once the sidecar routes to the tunnel: the very next matching request reaches the laptop', async () => {
    for (let i = 0; i < 5; i++) {
      const tunnel = await connectTunnel({ url: h.tunnelUrl, token: 'alice-token', target: h.laptop.url });
      try {
        expect(h.sidecar.registry.count('shop/alice')).toBe(1);
        expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('laptop');
      } finally {
        await tunnel.close({ drainMs: 0 });
        await waitFor(() => h.sidecar.registry.count('shop/alice') === 0, 'the tunnel to leave');
      }
    }
  });
});
