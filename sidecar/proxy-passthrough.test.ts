// Non-matching traffic: it must reach the app exactly as sent, for every protocol the port carries,
// while an intercept with a connected developer is active on the same port.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { hashStream, patternSha256, patternStream } from '../test/fixtures/bytes.js';
import { startRecordingServer } from '../test/fixtures/recording-server.js';
import { request, startHarness, userRoute, type Harness } from '../test/fixtures/sidecar-harness.js';
import { exchangeCase } from '../test/fixtures/smuggling-corpus.js';

const run = promisify(execFile);
/** Writes `data` on one connection and collects everything until the server closes or `quietMs` pass. */
const rawExchange = async (port: number, data: string, quietMs: number): Promise<string> => (await exchangeCase(port, data, quietMs)).received;

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  h.setRoutes([userRoute('alice', 'alice-token')]);
  await h.developer('alice-token');
});
afterAll(async () => { await h.close(); });

describe('non-matching HTTP/1.1 traffic', () => {
  it('streams a 100 MB body to the app and back byte for byte', async () => {
    const size = 100 * 1024 * 1024;
    const result = await new Promise<{ status: number; bytes: number; sha256: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: h.proxyPort, method: 'POST', path: '/echo', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
        hashStream(res).then((r) => resolve({ status: res.statusCode ?? 0, ...r }), reject);
      });
      req.on('error', reject);
      patternStream(size, 7).pipe(req);
    });
    expect(result.status).toBe(200);
    expect(result.bytes).toBe(size);
    expect(result.sha256).toBe(patternSha256(size, 7));
  });

  it('answers from the app with the request intact, hop-by-hop headers removed and X-Forwarded-* set', async () => {
    const reply = await request({
      port: h.proxyPort, path: '/anything?q=1', method: 'PUT', body: 'hello',
      headers: { connection: 'keep-alive, x-secret', 'x-secret': 'drop me', 'keep-alive': 'timeout=5', 'proxy-authorization': 'Basic Zm9v', 'x-custom': 'kept', 'x-detour-user': 'bob' },
    });
    expect(reply.status).toBe(200);
    const echo = reply.json();
    expect(echo).toMatchObject({ pod: 'app', method: 'PUT', path: '/anything?q=1', bodyBytes: 5 });
    expect(echo.headers['x-custom']).toBe('kept');
    expect(echo.headers['x-detour-user']).toBe('bob');
    expect(echo.headers['x-secret']).toBeUndefined();
    expect(echo.headers['keep-alive']).toBeUndefined();
    expect(echo.headers['proxy-authorization']).toBeUndefined();
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(echo.headers['x-forwarded-proto']).toBe('http');
  });

  it('appends to an existing X-Forwarded-For and keeps X-Forwarded-Proto', async () => {
    const echo = (await request({ port: h.proxyPort, headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' } })).json();
    expect(echo.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(echo.headers['x-forwarded-proto']).toBe('https');
  });

  it('passes statuses through, including ones without a body', async () => {
    expect((await request({ port: h.proxyPort, path: '/status/418' })).status).toBe(418);
    const noContent = await request({ port: h.proxyPort, path: '/status/204' });
    expect(noContent.status).toBe(204);
    expect(noContent.body.length).toBe(0);
  });

  it('streams chunked responses as chunks arrive', async () => {
    const chunks: string[] = [];
    const reply = await new Promise<{ te: string | undefined; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: h.proxyPort, path: '/stream?chunks=4&size=8&delayMs=40' }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => chunks.push(c));
        res.on('end', () => resolve({ te: res.headers['transfer-encoding'], body: chunks.join('') }));
      }).on('error', reject);
    });
    expect(reply.te).toBe('chunked');
    expect(reply.body).toBe(['.......0', '.......1', '.......2', '.......3'].map((l) => `${l}\n`).join(''));
    expect(chunks.length).toBeGreaterThan(1); // not buffered into one piece
  });

  it('keeps response trailers', async () => {
    const reply = await request({ port: h.proxyPort, path: '/trailers', headers: { te: 'trailers' } });
    expect(reply.body.toString()).toBe('trailers from app\n');
    expect(reply.trailers['x-pod']).toBe('app');
    expect(reply.trailers['x-checksum']).toHaveLength(64);
  });

  it('delivers Server-Sent Events one by one', async () => {
    const events: string[] = [];
    let dataEvents = 0;
    const contentType = await new Promise<string | undefined>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: h.proxyPort, path: '/sse?events=3&delayMs=40', headers: { accept: 'text/event-stream' } }, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          dataEvents++;
          buf += c;
          let i: number;
          while ((i = buf.indexOf('\n\n')) !== -1) { events.push(buf.slice(0, i)); buf = buf.slice(i + 2); }
        });
        res.on('end', () => resolve(res.headers['content-type']));
      }).on('error', reject);
    });
    expect(contentType).toBe('text/event-stream');
    expect(events.map((e) => JSON.parse(e.split('data: ')[1]!) as { n: number; pod: string })).toEqual([0, 1, 2].map((n) => ({ n, pod: 'app' })));
    expect(dataEvents).toBeGreaterThan(1);
  });

  it('routes each request on a reused keep-alive connection by its own headers', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await request({ port: h.proxyPort, agent });
      const second = await request({ port: h.proxyPort, agent, headers: { 'x-detour-user': 'alice' } });
      const third = await request({ port: h.proxyPort, agent });
      expect([first.json().pod, second.json().pod, third.json().pod]).toEqual(['app', 'laptop', 'app']);
      expect([second.reusedSocket, third.reusedSocket]).toEqual([true, true]);
    } finally {
      agent.destroy();
    }
  });

  it('never sends kubelet probes to a developer, even under a global intercept', async () => {
    h.setRoutes([userRoute('alice', 'alice-token', { match: undefined })]);
    try {
      const probe = await request({ port: h.proxyPort, path: '/healthz', headers: { 'user-agent': 'kube-probe/1.30' } });
      const other = await request({ port: h.proxyPort, path: '/healthz' });
      expect(probe.json().pod).toBe('app');
      expect(other.json().pod).toBe('laptop');
    } finally {
      h.setRoutes([userRoute('alice', 'alice-token')]);
    }
  });
});

describe('the byte-level HTTP/1.1 path (http1-byte-path.ts)', () => {
  it('answers pipelined requests in order although the first is slow and the second goes to the developer', async () => {
    const out = await rawExchange(h.proxyPort, [
      'GET /stream?chunks=3&size=8&delayMs=60 HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /second HTTP/1.1\r\nHost: x\r\nX-Detour-User: alice\r\n\r\n',
      'GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ].join(''), 5000);
    const slow = out.indexOf('.......2\n');
    const second = out.indexOf('"path":"/second"');
    const third = out.indexOf('"path":"/third"');
    expect([slow, second, third].every((i) => i > 0)).toBe(true);
    expect(slow).toBeLessThan(second);
    expect(second).toBeLessThan(third);
    const laptop = out.indexOf('"pod":"laptop"');
    expect(laptop > slow && laptop < third).toBe(true);
    expect(JSON.parse(out.slice(out.lastIndexOf('\r\n\r\n') + 4)).pod).toBe('app');
  });

  it('frames HEAD, 204 and 304 answers without a body and keeps the connection for the next request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const head = await request({ port: h.proxyPort, agent, method: 'HEAD', path: '/bytes?size=5000' });
      const noContent = await request({ port: h.proxyPort, agent, path: '/status/204' });
      const notModified = await request({ port: h.proxyPort, agent, path: '/status/304' });
      const after = await request({ port: h.proxyPort, agent, path: '/after' });
      expect([head.status, noContent.status, notModified.status, after.status]).toEqual([200, 204, 304, 200]);
      expect([head.body.length, noContent.body.length, notModified.body.length]).toEqual([0, 0, 0]);
      expect(after.json()).toMatchObject({ pod: 'app', path: '/after' });
      expect([noContent.reusedSocket, notModified.reusedSocket, after.reusedSocket]).toEqual([true, true, true]);
    } finally {
      agent.destroy();
    }
  });

  it('answers Expect: 100-continue itself and forwards the body (curl)', async () => {
    const body = 'x'.repeat(4096);
    const { stdout } = await run('curl', ['-sS', '-H', 'Expect: 100-continue', '-H', 'Content-Type: text/plain', '--data-binary', body, `http://127.0.0.1:${h.proxyPort}/echo`]);
    expect(stdout.length).toBe(4096);
  });
});

describe('non-matching WebSocket traffic', () => {
  it('upgrades to the app and echoes text and binary messages', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.proxyPort}/ws`);
    let pod: string | undefined;
    ws.once('upgrade', (res) => { pod = res.headers['x-pod'] as string | undefined; });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const replies: Array<{ data: string; binary: boolean }> = [];
    const got = new Promise<void>((resolve) => ws.on('message', (d: Buffer, binary) => { replies.push({ data: d.toString('hex'), binary }); if (replies.length === 2) resolve(); }));
    ws.send('hello');
    ws.send(Buffer.from([0, 1, 2, 255]));
    await got;
    ws.close();
    expect(pod).toBe('app');
    expect(replies).toEqual([{ data: Buffer.from('hello').toString('hex'), binary: false }, { data: '000102ff', binary: true }]);
  });
});

describe('non-matching h2c traffic (gRPC: grpc.test.ts)', () => {
  let session: http2.ClientHttp2Session;
  beforeAll(() => { session = http2.connect(`http://127.0.0.1:${h.proxyPort}`); });
  afterAll(() => { session.close(); });

  it('carries plain HTTP/2 requests to the app', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const s = session.request({ ':path': '/h2-plain' });
      let d = '';
      s.setEncoding('utf8');
      s.on('data', (c: string) => { d += c; });
      s.on('end', () => resolve(d));
      s.on('error', reject);
      s.end();
    });
    const echo = JSON.parse(body) as { pod: string; path: string; headers: Record<string, string> };
    expect(echo).toMatchObject({ pod: 'app', path: '/h2-plain' });
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
  });
});

describe('the app is down', () => {
  it('answers 502 with a reason instead of hanging', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => resolve(p)); });
    });
    const { startHarness: start } = await import('../test/fixtures/sidecar-harness.js');
    const h2 = await start({ ports: [{ name: 'http', appPort: closed, listenPort: 0 }] });
    try {
      const reply = await request({ port: h2.proxyPort });
      expect(reply.status).toBe(502);
      // Generic for the client (the port and error code go to the sidecar's log).
      expect(reply.headers['x-detour-reason']).toBe('upstream unavailable');
      expect(reply.body.toString()).toBe('upstream unavailable\n');
    } finally {
      await h2.close();
    }
  });
});

describe('the address the app sees', () => {
  it('is the address the client connection arrived on, not loopback, also when the app listens on 127.0.0.1 only', async () => {
    const app = await startRecordingServer('127.0.0.1');
    // 127.0.0.2 stands in for the pod IP: the sidecar listens there, the app only on 127.0.0.1.
    const side = await startHarness({ ports: [{ name: 'http', appPort: app.port, listenPort: 0 }], bindHost: '127.0.0.2' });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.2', port: side.proxyPort, path: '/who', agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
      });
      expect(status).toBe(200);
      const upgrade = await new Promise<number>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.2', port: side.proxyPort, path: '/ws', agent: false, headers: { connection: 'Upgrade', upgrade: 'test' } });
        req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode ?? 0); });
        req.on('error', reject);
      });
      expect(upgrade).toBe(101);
      expect(app.requests.map((r) => [r.path, r.remoteAddress])).toEqual([['/who', '127.0.0.2'], ['/ws', '127.0.0.2']]);
      // The real client stays in X-Forwarded-For.
      expect(app.requests[0]!.headers['x-forwarded-for']).toMatch(/^127\.0\.0\.\d+$/);
    } finally {
      await side.close();
      await app.close();
    }
  });
});
