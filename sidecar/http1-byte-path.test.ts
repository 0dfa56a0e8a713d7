// The byte-level HTTP/1.1 path against apps that frame answers in other ways than the echo app:
// close-delimited answers, 1xx before the answer, a malformed answer, app connections reused across
// clients. (Pipelining, HEAD/204/304 and 100-continue: proxy-passthrough.test.ts.)

import { describe, expect, it } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import { request, startHarness } from '../test/fixtures/sidecar-harness.js';
import { exchangeCase } from '../test/fixtures/smuggling-corpus.js';

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
