// Tunnel protocol negotiation (#19 skew policy) with real sidecars and the CLI's real tunnel code:
// a new CLI with a sidecar that speaks only detour-tunnel.v1 (as v0.1.0 does), an older CLI (v1 only)
// with a new sidecar, both new (HTTP/1 as bytes), and the refusals that say what to upgrade.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { connectTunnel, TunnelProtocolError, type TunnelRequestEvent } from '../core/tunnel/developer.js';
import { TUNNEL_SUBPROTOCOL_V1, TUNNEL_SUBPROTOCOL_V2 } from '../core/tunnel/protocol.js';
import { startHarness, userRoute, waitFor, type Harness } from '../test/fixtures/sidecar-harness.js';

const ALICE = { 'x-detour-user': 'alice' };

/** A local server that answers with the header lines exactly as they arrived (names in their case, order). */
async function startRawHeadersServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => { bytes += c.length; });
    req.on('end', () => {
      res.setHeader('X-Answer-Case', 'Kept');
      res.end(JSON.stringify({ raw: req.rawHeaders, method: req.method, bytes, trailers: req.rawTrailers }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** Node's client, with header names in the case given (rawHeaders come back as sent). */
function send(port: number, options: { method?: string; headers?: Record<string, string>; body?: string[]; trailers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; rawHeaders: string[]; json: { raw: string[]; method: string; bytes: number; trailers: string[] } }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: '/case?x=1', headers: { ...ALICE, 'X-Mixed-Case': 'v', ...options.headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    for (const b of options.body ?? []) req.write(b);
    if (options.trailers) req.addTrailers(options.trailers);
    req.end();
  });
}

function headerNames(raw: string[]): string[] {
  return raw.filter((_, i) => i % 2 === 0);
}

describe('tunnel protocol negotiation', () => {
  let local: Awaited<ReturnType<typeof startRawHeadersServer>>;
  let newSidecar: Harness;
  let oldSidecar: Harness;
  beforeAll(async () => {
    local = await startRawHeadersServer();
    newSidecar = await startHarness();
    oldSidecar = await startHarness({ tunnelSubprotocols: [TUNNEL_SUBPROTOCOL_V1] });
    for (const h of [newSidecar, oldSidecar]) h.setRoutes([userRoute('alice', 'alice-token')]);
  });
  afterAll(async () => { await Promise.all([newSidecar.close(), oldSidecar.close(), local.close()]); });

  it('both new: detour-tunnel.v2, the request reaches the local server as its own bytes (header case and order kept), chunked body and trailers too', async () => {
    const events: TunnelRequestEvent[] = [];
    const t = await newSidecar.developer('alice-token', { target: local.url, onRequest: (e) => events.push(e) });
    expect(t.protocol).toBe(TUNNEL_SUBPROTOCOL_V2);
    expect(newSidecar.sidecar.registry.all()[0]!.mode).toBe('v2');
    const r = await send(newSidecar.proxyPort, { method: 'POST', body: ['abc', 'defg'], trailers: { 'X-Req-Trailer': 't' } });
    expect(r.status).toBe(200);
    expect(r.json.method).toBe('POST');
    expect(r.json.bytes).toBe(7);
    expect(r.json.trailers).toEqual(['X-Req-Trailer', 't']);
    const names = headerNames(r.json.raw);
    expect(names).toContain('X-Mixed-Case'); // an HTTP/2 hop would have lower-cased it
    expect(names.indexOf('x-detour-user')).toBeLessThan(names.indexOf('X-Mixed-Case'));
    expect(names.filter((n) => n.toLowerCase().startsWith('x-detour-tunnel-'))).toEqual([]);
    expect(headerNames(r.rawHeaders)).toContain('X-Answer-Case');
    await waitFor(() => events.length === 1);
    expect(events[0]).toMatchObject({ method: 'POST', path: '/case?x=1', status: 200, protocol: 'http1', intercept: 'shop/alice' });
    await t.close();
  });

  it('new CLI, sidecar that speaks only v1 (v0.1.0): falls back to detour-tunnel.v1 and serves requests', async () => {
    const t = await oldSidecar.developer('alice-token', { target: local.url });
    expect(t.protocol).toBe(TUNNEL_SUBPROTOCOL_V1);
    expect(oldSidecar.sidecar.registry.all()[0]!.mode).toBe('v1');
    const r = await send(oldSidecar.proxyPort, { method: 'POST', body: ['abc'] });
    expect(r.status).toBe(200);
    expect(r.json.bytes).toBe(3);
    expect(headerNames(r.json.raw)).toContain('x-mixed-case'); // through HTTP/2, as v1 always did
    await t.close();
  });

  it('older CLI (offers only v1), new sidecar: the tunnel runs in v1 mode', async () => {
    const t = await newSidecar.developer('alice-token', { target: local.url, subprotocols: [TUNNEL_SUBPROTOCOL_V1] });
    expect(t.protocol).toBe(TUNNEL_SUBPROTOCOL_V1);
    await waitFor(() => newSidecar.sidecar.registry.all().some((p) => p.mode === 'v1'));
    const r = await send(newSidecar.proxyPort);
    expect(r.status).toBe(200);
    expect(headerNames(r.json.raw)).toContain('x-mixed-case');
    await t.close();
  });

  it('a CLI newer than the sidecar supports is told to restart the pods (the sidecar lists what it speaks)', async () => {
    const attempt = connectTunnel({ url: newSidecar.tunnelUrl, token: 'alice-token', target: local.url, subprotocols: ['detour-tunnel.v9', 'detour-tunnel.v8'] });
    await expect(attempt).rejects.toBeInstanceOf(TunnelProtocolError);
    await expect(attempt).rejects.toMatchObject({
      status: 426, upgrade: 'sidecar',
      reason: 'the sidecar is older than this detour CLI supports (this detour CLI speaks tunnel protocol detour-tunnel.v9, detour-tunnel.v8; the sidecar speaks detour-tunnel.v2, detour-tunnel.v1): restart the workload\'s pods so they get the current sidecar (kubectl rollout restart), or use an older detour CLI',
    });
  });

  it('a sidecar newer than the CLI supports makes the CLI say: upgrade the detour CLI', async () => {
    const future = await startHarness({ tunnelSubprotocols: ['detour-tunnel.v4', 'detour-tunnel.v3'] });
    try {
      future.setRoutes([userRoute('alice', 'alice-token')]);
      const attempt = connectTunnel({ url: future.tunnelUrl, token: 'alice-token', target: local.url });
      await expect(attempt).rejects.toMatchObject({ status: 426, upgrade: 'cli', reason: expect.stringMatching(/^the sidecar is newer than this detour CLI supports \(this detour CLI speaks tunnel protocol detour-tunnel\.v2, detour-tunnel\.v1; the sidecar speaks detour-tunnel\.v4, detour-tunnel\.v3\): upgrade the detour CLI$/) });
    } finally {
      await future.close();
    }
  });

  it('a sidecar from before negotiation that speaks none of the offered protocols reads as "the sidecar is older"', async () => {
    // What v0.1.0's tunnel server does with an offer that lacks detour-tunnel.v1: the handshake completes without a subprotocol.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has(TUNNEL_SUBPROTOCOL_V1) ? TUNNEL_SUBPROTOCOL_V1 : false) });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    try {
      const attempt = connectTunnel({ url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/tunnel`, token: 't', target: local.url, subprotocols: ['detour-tunnel.v3', TUNNEL_SUBPROTOCOL_V2] });
      await expect(attempt).rejects.toMatchObject({ status: 426, upgrade: 'sidecar', reason: expect.stringMatching(/the sidecar speaks none of them \(it predates tunnel protocol negotiation\)\): restart the workload's pods/) });
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });
});
