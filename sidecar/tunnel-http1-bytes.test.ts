// HTTP/1 as bytes (detour-tunnel.v2) against local servers that frame their answers every way
// HTTP/1.1 allows: keep-alive reuse, close-delimited bodies, HEAD / 204, Connection: close, a local
// server that is down or answers garbage; and the byte-level variant the data-plane proxy calls.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { forwardHttp1BytesToDeveloper } from './http1-developer.js';
import { request, startHarness, userRoute, waitFor, type Harness } from '../test/fixtures/sidecar-harness.js';
import type { TunnelRequestEvent } from '../core/tunnel/developer.js';

const ALICE = { 'x-detour-user': 'alice' };

/** A local server written on raw sockets: `answer(requestHead)` returns the bytes to send, and whether to close after. */
async function startRawServer(answer: (head: string) => { bytes: string; close?: boolean }): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4); // these tests send no request bodies
        const a = answer(head);
        if (a.close) { s.end(a.bytes); return; }
        s.write(a.bytes);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

let h: Harness;
let raw: Awaited<ReturnType<typeof startRawServer>>;
const events: TunnelRequestEvent[] = [];
beforeAll(async () => {
  raw = await startRawServer((head) => {
    const path = head.split(' ')[1]!;
    if (path === '/close-delimited') return { bytes: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the connection closes', close: true };
    if (path === '/connection-close') return { bytes: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbye\n', close: true };
    if (path === '/no-content') return { bytes: 'HTTP/1.1 204 No Content\r\n\r\n' };
    if (path === '/garbage') return { bytes: 'this is not HTTP\r\n\r\n', close: true };
    if (head.startsWith('HEAD ')) return { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n' };
    return { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Raw: 1\r\n\r\nok\n' };
  });
  h = await startHarness();
  h.setRoutes([userRoute('alice', 'alice-token')]);
  await h.developer('alice-token', { target: `http://127.0.0.1:${raw.port}`, onRequest: (e) => events.push(e) });
});
afterAll(async () => { await h.close(); await raw.close(); });

describe('HTTP/1 as bytes through the tunnel', () => {
  it('reuses one keep-alive connection to the local server for sequential requests', async () => {
    const before = raw.connections();
    for (let i = 0; i < 5; i++) {
      const r = await request({ port: h.proxyPort, path: '/plain', headers: ALICE });
      expect([r.status, r.body.toString(), r.headers['x-raw']]).toEqual([200, 'ok\n', '1']);
    }
    expect(raw.connections() - before).toBe(1);
  });

  it('relays a close-delimited body whole, and the next request gets a fresh connection', async () => {
    const r = await request({ port: h.proxyPort, path: '/close-delimited', headers: ALICE });
    expect([r.status, r.body.toString()]).toEqual([200, 'until the connection closes']);
    const after = await request({ port: h.proxyPort, path: '/plain', headers: ALICE });
    expect(after.body.toString()).toBe('ok\n');
  });

  it('does not reuse a connection the local server closes (Connection: close)', async () => {
    const r = await request({ port: h.proxyPort, path: '/connection-close', headers: ALICE });
    expect(r.body.toString()).toBe('bye\n');
    expect((await request({ port: h.proxyPort, path: '/plain', headers: ALICE })).body.toString()).toBe('ok\n');
  });

  it('knows HEAD and 204 answers have no body (the connection stays usable)', async () => {
    const head = await request({ port: h.proxyPort, method: 'HEAD', path: '/plain', headers: ALICE });
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, '1234', 0]);
    const none = await request({ port: h.proxyPort, path: '/no-content', headers: ALICE });
    expect(none.status).toBe(204);
    expect((await request({ port: h.proxyPort, path: '/plain', headers: ALICE })).body.toString()).toBe('ok\n');
  });

  it('answers 502 when the local server sends something that is not HTTP/1.1, and says why in the CLI', async () => {
    const r = await request({ port: h.proxyPort, path: '/garbage', headers: ALICE });
    expect(r.status).toBe(502);
    await waitFor(() => events.some((e) => e.path === '/garbage'));
    expect(events.find((e) => e.path === '/garbage')).toMatchObject({ status: 502, error: expect.stringMatching(/malformed response: malformed status line/) });
  });

  it('answers 502 with the reason when the local server is down', async () => {
    const down = await startHarness();
    try {
      down.setRoutes([userRoute('alice', 'alice-token')]);
      const closed = net.createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((r) => closed.close(r));
      await down.developer('alice-token', { target: `http://127.0.0.1:${port}` });
      const r = await request({ port: down.proxyPort, path: '/x', headers: ALICE });
      expect(r.status).toBe(502);
      expect(r.headers['x-detour-reason']).toBe('local server unreachable: ECONNREFUSED');
    } finally {
      await down.close();
    }
  });

  it("forwardHttp1BytesToDeveloper (the byte-level proxy's call): the request's bytes out, the local server's bytes back unchanged", async () => {
    const tunnel = h.sidecar.registry.pick('shop/alice')!;
    const client = new PassThrough();
    const received: Buffer[] = [];
    client.on('data', (c: Buffer) => received.push(c));
    const result = await new Promise<{ ok: boolean; keepAlive: boolean; status: number }>((resolve) => {
      forwardHttp1BytesToDeveloper({
        head: 'GET /plain HTTP/1.1\r\nHost: checkout\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n', method: 'GET', target: '/plain', host: 'checkout',
        client, decision: { kind: 'developer', route: { intercept: 'shop/alice' }, tunnel } as never,
        series: { activeStreams: () => ({ inc: () => undefined, dec: () => undefined }) as never },
        onDone: (ok, _detail, info) => resolve({ ok, ...info }),
      });
    });
    expect(result).toEqual({ ok: true, keepAlive: true, status: 200 });
    expect(Buffer.concat(received).toString('latin1')).toBe('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Raw: 1\r\n\r\nok\n');
  });
});

describe('Node http keep-alive clients', () => {
  it('a keep-alive client sends several requests on one connection to the developer, each answered', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const bodies = await Promise.all([1, 2, 3, 4].map(() => new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: h.proxyPort, path: '/plain', headers: ALICE, agent }, (res) => {
          let d = '';
          res.on('data', (c: Buffer) => { d += c.toString(); });
          res.on('end', () => resolve(d));
        }).on('error', reject);
      })));
      expect(bodies).toEqual(['ok\n', 'ok\n', 'ok\n', 'ok\n']);
    } finally {
      agent.destroy();
    }
  });
});
