// Hostile and broken input: malformed requests, oversized headers, broken HTTP/2, bad tokens,
// garbage inside a tunnel, and intercepts that leave the table.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { connectTunnel, TunnelRefusedError } from '../core/tunnel/developer.js';
import { CLOSE, TUNNEL_SUBPROTOCOL } from '../core/tunnel/protocol.js';
import { request, startHarness, userRoute, waitFor, type Harness } from '../test/fixtures/sidecar-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  h.setRoutes([userRoute('alice', 'alice-token'), userRoute('bob', 'bob-token')]);
});
afterAll(async () => { await h.close(); });

/** Writes raw bytes to a port and collects whatever comes back until the peer closes. */
function raw(port: number, data: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (c: string) => { out += c; });
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
    s.setTimeout(5000, () => s.destroy());
  });
}

describe('the inbound proxy', () => {
  it('answers a malformed request with 400', async () => {
    expect(await raw(h.proxyPort, 'THIS IS NOT HTTP\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(h.proxyPort, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('answers oversized headers with 431', async () => {
    const reply = await raw(h.proxyPort, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('survives a broken HTTP/2 connection and keeps serving others', async () => {
    const garbage = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.alloc(64, 0xff)]);
    await raw(h.proxyPort, garbage); // the server closes it (GOAWAY or reset)
    expect((await request({ port: h.proxyPort })).json().pod).toBe('app');
  });

  it('does not let clients forge tunnel markers', async () => {
    const tunnel = await h.developer('alice-token');
    try {
      const reply = await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice', 'x-detour-tunnel-upgrade': 'websocket', 'x-detour-tunnel-mirror': '1' } });
      expect(reply.status).toBe(200);
      expect(reply.json().pod).toBe('laptop');
    } finally {
      await tunnel.close();
    }
  });
});

describe('the tunnel endpoint', () => {
  const tunnelPort = (): number => Number(new URL(h.tunnelUrl).port);

  it('refuses a missing token with 401 and a reason', async () => {
    const err = await new Promise<{ status: number; reason: string | undefined }>((resolve) => {
      const ws = new WebSocket(h.tunnelUrl, [TUNNEL_SUBPROTOCOL]);
      ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, reason: res.headers['x-detour-reason'] as string | undefined }));
      ws.on('error', () => undefined);
    });
    expect(err.status).toBe(401);
    expect(err.reason).toMatch(/missing token/);
  });

  it('refuses a wrong token with 403 and routes nothing to it', async () => {
    const attempt = connectTunnel({ url: h.tunnelUrl, token: 'not-a-token', target: h.laptop.url });
    await expect(attempt).rejects.toBeInstanceOf(TunnelRefusedError);
    await expect(attempt).rejects.toMatchObject({ status: 403 });
    expect(h.sidecar.registry.all()).toHaveLength(0);
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('app');
  });

  it('accepts the token in X-Detour-Token (for paths through the Kubernetes API)', async () => {
    const tunnel = await h.developer('alice-token', { tokenHeader: 'x-detour-token' });
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('laptop');
    await tunnel.close();
    await waitFor(() => h.sidecar.registry.all().length === 0);
  });

  it('gives a token only its own intercept\'s traffic', async () => {
    const bob = await h.developer('bob-token');
    try {
      expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('app');
      expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'bob' } })).json().pod).toBe('laptop');
    } finally {
      await bob.close();
      await waitFor(() => h.sidecar.registry.all().length === 0);
    }
  });

  it('answers plain HTTP on the tunnel port with 426', async () => {
    const reply = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: tunnelPort(), path: '/' }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
    });
    expect(reply).toBe(426);
  });

  it('closes only the tunnel that sent malformed data', async () => {
    const alice = await h.developer('alice-token');
    try {
      for (const bad of [Buffer.from('definitely not HTTP/2 frames, just garbage bytes....'), 'a text frame']) {
        const ws = new WebSocket(h.tunnelUrl, [TUNNEL_SUBPROTOCOL], { headers: { authorization: 'Bearer bob-token' } });
        await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
        const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
        ws.on('error', () => undefined);
        ws.send(bad);
        await closed;
      }
      // Bob's intercept got no tunnel out of it; Alice's keeps working.
      expect(h.sidecar.registry.count('shop/bob')).toBe(0);
      expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'bob' } })).json().pod).toBe('app');
      expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('laptop');
    } finally {
      await alice.close();
      await waitFor(() => h.sidecar.registry.all().length === 0);
    }
  });

  it('closes a tunnel when its intercept leaves the routing table', async () => {
    const alice = await h.developer('alice-token');
    h.setRoutes([userRoute('bob', 'bob-token')]);
    const info = await alice.closed;
    expect(info.code).toBe(CLOSE.revoked);
    expect(h.sidecar.registry.count('shop/alice')).toBe(0);
    await waitFor(() => h.sidecar.registry.all().length === 0, 'the closed tunnel to leave the registry');
    h.setRoutes([userRoute('alice', 'alice-token'), userRoute('bob', 'bob-token')]);
  });

  it('refuses the token of an expired intercept', async () => {
    h.setRoutes([userRoute('alice', 'alice-token', { expiresAt: new Date(Date.now() - 1000).toISOString() })]);
    await expect(connectTunnel({ url: h.tunnelUrl, token: 'alice-token', target: h.laptop.url })).rejects.toMatchObject({ status: 403, reason: expect.stringMatching(/expired/) });
    h.setRoutes([userRoute('alice', 'alice-token'), userRoute('bob', 'bob-token')]);
  });
});
