// Hostile and broken input: malformed requests, oversized headers, broken HTTP/2, bad tokens,
// garbage inside a tunnel, and intercepts that leave the table.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import WebSocket from 'ws';
import { connectTunnel, TunnelRefusedError } from '../core/tunnel/developer.js';
import { CLOSE, TUNNEL_SUBPROTOCOL } from '../core/tunnel/protocol.js';
import { startRecordingServer, type RecordedRequest, type RecordingServer } from '../test/fixtures/recording-server.js';
import { buildSmugglingCorpus, exchangeCase, ownedBy, planCaseProblems, splitResponses, type CaseOutcome } from '../test/fixtures/smuggling-corpus.js';
import { request, startHarness, userRoute, waitFor, type Harness } from '../test/fixtures/sidecar-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  h.setRoutes([userRoute('alice', 'alice-token'), userRoute('bob', 'bob-token')]);
});
afterAll(async () => { await h.close(); });

/** Writes raw bytes to a port and collects whatever comes back until the peer closes. */
const raw = async (port: number, data: string | Buffer): Promise<string> => (await exchangeCase(port, data, 5000)).received;

describe('the inbound proxy', () => {
  it('answers a malformed request with 400', async () => {
    expect(await raw(h.proxyPort, 'THIS IS NOT HTTP\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(h.proxyPort, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
  });

  // RFC 9112 §3: Node's parser tolerated these and the sidecar forwarded what it parsed (issue #16).
  it.each([
    ['a doubled space', 'GET  /x HTTP/1.1'],
    ['version 2.0', 'GET /x HTTP/2.0'],
    ['a tab for a space', 'GET\t/x HTTP/1.1'],
  ])('answers a request line that is not `method SP target SP HTTP/1.x` (%s) with 400 and close', async (_name, line) => {
    const reply = await raw(h.proxyPort, `${line}\r\nHost: x\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply).toMatch(/\r\nConnection: close\r\n/);
  });

  it.each([
    ['a chunk size that is not hex', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['a chunk without its CRLF', '5\r\nhelloXX0\r\n\r\n'],
    ['a chunk size that overflows', `${'f'.repeat(20)}\r\nhello\r\n0\r\n\r\n`],
  ])('answers an invalid chunked body (%s) with 400 and Connection: close', async (_name, body) => {
    const reply = await raw(h.proxyPort, `POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply).toMatch(/\r\nConnection: close\r\n/);
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

describe('Connection naming a framing header (request smuggling)', () => {
  let rh: Harness;
  let app: RecordingServer;
  let laptop: RecordingServer;

  beforeAll(async () => {
    app = await startRecordingServer();
    laptop = await startRecordingServer();
    rh = await startHarness({ ports: [{ name: 'http', appPort: app.port, listenPort: 0 }] });
    rh.setRoutes([userRoute('alice', 'alice-token')]);
  });
  afterAll(async () => { await rh.close(); await Promise.all([app.close(), laptop.close()]); });

  const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n';
  const cases = [
    { name: 'content-length', framing: `Content-Length: ${smuggled.length}\r\n`, body: smuggled },
    { name: 'transfer-encoding', framing: 'Transfer-Encoding: chunked\r\n', body: `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n` },
    { name: 'host', framing: `Content-Length: ${smuggled.length}\r\n`, body: smuggled },
  ];
  for (const path of ['app', 'developer'] as const) {
    it.each(cases)(`refuses Connection: $name with 400 and sends nothing to the ${path}`, async ({ name, framing, body }) => {
      const tunnel = path === 'developer' ? await rh.developer('alice-token', { target: laptop.url }) : undefined;
      try {
        app.reset();
        laptop.reset();
        const user = path === 'developer' ? 'X-Detour-User: alice\r\n' : '';
        const reply = await raw(rh.proxyPort, `DELETE /c HTTP/1.1\r\nHost: x\r\n${user}Connection: close, ${name}\r\n${framing}\r\n${body}`);
        // Neither the app nor the laptop ever sees the request, let alone the smuggled one.
        await new Promise((r) => setTimeout(r, 50));
        expect([...app.requests, ...laptop.requests].map((r) => r.path)).toEqual([]);
        expect(reply).toMatch(/^HTTP\/1\.1 400 /);
        expect(reply).toMatch(/\r\nConnection: close\r\n/i);
        expect(reply.match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1);
      } finally {
        await tunnel?.close();
        await waitFor(() => rh.sidecar.registry.all().length === 0);
      }
    });
  }

  it('still forwards Connection-named end-to-end headers as hop-by-hop (removed), with the body framed', async () => {
    app.reset();
    const reply = await request({ port: rh.proxyPort, method: 'DELETE', path: '/ok', headers: { connection: 'x-private', 'x-private': 'secret', 'content-length': '5' }, body: 'hello' });
    expect(reply.status).toBe(200);
    expect(app.requests).toHaveLength(1);
    expect(app.requests[0]).toMatchObject({ path: '/ok', body: 'hello', complete: true });
    expect(app.requests[0]!.headers['x-private']).toBeUndefined();
    expect(app.requests[0]!.headers['content-length']).toBe('5');
  });
});

describe('generated smuggling corpus', () => {
  let rh: Harness;
  let app: RecordingServer;
  let laptop: RecordingServer;
  const corpus = buildSmugglingCorpus();
  const results = new Map<string, CaseOutcome>();
  const seen: RecordedRequest[] = [];

  beforeAll(async () => {
    app = await startRecordingServer();
    laptop = await startRecordingServer();
    rh = await startHarness({ ports: [{ name: 'http', appPort: app.port, listenPort: 0 }] });
    rh.setRoutes([userRoute('alice', 'alice-token')]);
    const tunnel = await rh.developer('alice-token', { target: laptop.url });
    for (let i = 0; i < corpus.length; i += 60) {
      await Promise.all(corpus.slice(i, i + 60).map(async (c) => { results.set(c.id, await exchangeCase(rh.proxyPort, c.bytes)); }));
    }
    await new Promise((r) => setTimeout(r, 100)); // let aborted forwards settle at the app
    seen.push(...app.requests, ...laptop.requests);
    await tunnel.close();
  });
  afterAll(async () => { await rh.close(); await Promise.all([app.close(), laptop.close()]); });

  it('covers every family the issue names, with hundreds of generated cases', () => {
    const families = new Set(corpus.map((c) => c.family));
    for (const f of ['cl-te', 'te-cl', 'te-te', 'te-only', 'te-header', 'connection', 'content-length', 'chunk', 'header', 'request-line', 'framed-body', 'pipelined', 'classic-cl-te', 'classic-te-cl', 'classic-te-te', 'gen-chunk-ext', 'gen-value-ctl']) expect(families).toContain(f);
    expect(corpus.length).toBeGreaterThan(300);
  });

  it('never lets a body become a request: the app and the laptop only see request lines the client wrote', () => {
    expect(seen.filter((r) => !corpus.some((c) => ownedBy(r, c.id))).map((r) => r.path)).toEqual([]);
  });

  it.each(corpus.map((c) => [c.id, c] as const))('%s: refused with 4xx and close, or forwarded exactly as answered', (_id, c) => {
    expect(planCaseProblems(c, results.get(c.id)!, seen)).toEqual([]);
  });

  it('answers pipelined requests in order, each routed on its own', () => {
    for (const id of ['pipelined-0', 'pipelined-1']) {
      const answers = splitResponses(results.get(id)!.received).map((r) => (JSON.parse(r.body) as { path: string }).path);
      expect(answers).toEqual([`/c/${id}/1`, `/c/${id}/2`, `/c/${id}/3`]);
    }
    expect(laptop.requests.map((r) => r.path).filter((p) => p.startsWith('/c/pipelined'))).toEqual(['/c/pipelined-1/2']);
  });
});
