// The byte-level HTTP/1.1 path against apps that answer in every framing HTTP/1.1 has: pipelined
// requests to different destinations answered in order, HEAD, 204/304 on a kept-alive connection,
// close-delimited answers, 1xx before the answer, 100-continue (curl), app connections reused across
// requests and clients, a malformed answer. Clients are Node's http client, curl and raw sockets.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { promisify } from 'node:util';
import { request, startHarness, userRoute, type Harness } from '../test/fixtures/sidecar-harness.js';
import { exchangeCase } from '../test/fixtures/smuggling-corpus.js';

const run = promisify(execFile);

/** Writes `data` on one connection and collects everything until the server closes or `quietMs` pass. */
const rawExchange = async (port: number, data: string, quietMs: number): Promise<string> => (await exchangeCase(port, data, quietMs)).received;

/** A TCP "app" that answers every request head with `answer` (raw bytes) and then, if `close`, closes. */
async function startRawApp(answer: string, close: boolean): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let seen = '';
    s.on('data', (c: Buffer) => {
      seen += c.toString('latin1');
      while (seen.includes('\r\n\r\n')) {
        seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
        if (close) s.end(answer); else s.write(answer);
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

describe('the byte path with the echo app and a developer', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    h.setRoutes([userRoute('alice', 'alice-token')]);
    await h.developer('alice-token');
  });
  afterAll(async () => { await h.close(); });

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

describe('the byte path with apps that frame answers in other ways', () => {
  it('relays a close-delimited answer whole and closes the client connection after it', async () => {
    const app = await startRawApp('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the app closes', true);
    const h = await startHarness({ ports: [{ name: 'http', appPort: app.port, listenPort: 0 }] });
    try {
      const out = await rawExchange(h.proxyPort, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n', 5000);
      expect(out).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the app closes');
    } finally {
      await h.close();
      await app.close();
    }
  });

  it('relays 1xx answers before the final answer (Node client sees 103, then 200)', async () => {
    const app = await startRawApp('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', false);
    const h = await startHarness({ ports: [{ name: 'http', appPort: app.port, listenPort: 0 }] });
    try {
      const got = await new Promise<{ info: number[]; status: number; body: string }>((resolve, reject) => {
        const info: number[] = [];
        const req = http.get({ host: '127.0.0.1', port: h.proxyPort, path: '/', agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => { body += c; });
          res.on('end', () => resolve({ info, status: res.statusCode ?? 0, body }));
        });
        req.on('information', (i) => info.push(i.statusCode));
        req.on('error', reject);
      });
      expect(got).toEqual({ info: [103], status: 200, body: 'ok' });
    } finally {
      await h.close();
      await app.close();
    }
  });

  it('answers 502 when the app sends something that is not an HTTP answer', async () => {
    const app = await startRawApp('SSH-2.0-OpenSSH_9.6\r\n\r\n', false);
    const h = await startHarness({ ports: [{ name: 'http', appPort: app.port, listenPort: 0 }] });
    try {
      const reply = await request({ port: h.proxyPort });
      expect(reply.status).toBe(502);
      expect(reply.headers['x-detour-reason']).toBe('upstream unavailable');
    } finally {
      await h.close();
      await app.close();
    }
  });

  it('reuses one app connection for sequential requests of different clients', async () => {
    let connections = 0;
    const app = http.createServer((_req, res) => res.end('ok'));
    app.on('connection', () => { connections++; });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const h = await startHarness({ ports: [{ name: 'http', appPort: (app.address() as net.AddressInfo).port, listenPort: 0 }] });
    try {
      for (let i = 0; i < 10; i++) expect((await request({ port: h.proxyPort })).body.toString()).toBe('ok');
      expect(connections).toBe(1);
    } finally {
      await h.close();
      app.closeAllConnections();
      await new Promise((r) => app.close(r));
    }
  });
});
