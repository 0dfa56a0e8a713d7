// Leaving gracefully: a developer who closes the tunnel (Ctrl-C), a sidecar that revokes it (the
// intercept left the table or expired) and a tunnel replaced by a newer one all let the requests in
// flight finish with the laptop's answer, while requests that arrive meanwhile follow the fallback.
// Real sockets: a real sidecar, the real developer end, Node's http client.

import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLOSE } from '../core/tunnel/protocol.js';
import { request, startHarness, userRoute, waitFor, type Harness, type Reply } from '../test/fixtures/sidecar-harness.js';

const ALICE = { 'x-detour-user': 'alice' };

interface SlowLaptop {
  url: string;
  /** Requests the laptop received so far. */
  received: number;
  close(): Promise<void>;
}

/** A local service that answers after `delayMs` with who it is and a hash of the body it read. */
async function startSlowLaptop(delayMs: number, name = 'laptop'): Promise<SlowLaptop> {
  const state = { received: 0 };
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    state.received++;
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => { hash.update(c); bytes += c.length; });
    req.on('end', () => {
      const body = JSON.stringify({ pod: name, path: req.url, bodyBytes: bytes, bodySha256: hash.digest('hex') });
      const t = setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(body), delayMs);
      res.on('close', () => clearTimeout(t));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get received() { return state.received; },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Alternating GETs and POSTs (bodies of a few KB) with Alice's header, each remembering what it sent. */
function aliceRequest(h: Harness, i: number): Promise<{ i: number; sent?: Buffer; reply: Reply }> {
  const sent = i % 2 === 0 ? Buffer.alloc(2000 + i * 13, i % 251) : undefined;
  return request({ port: h.proxyPort, method: sent ? 'POST' : 'GET', path: `/r/${i}`, headers: ALICE, body: sent })
    .then((reply) => ({ i, ...(sent ? { sent } : {}), reply }));
}

/** What one reply says: the laptop's answer with the body it was sent intact, the app's, or anything else. */
function classify(r: { i: number; sent?: Buffer; reply: Reply }): string {
  if (r.reply.status !== 200) return `${r.reply.status} ${r.reply.headers['x-detour-reason'] ?? r.reply.body.toString().slice(0, 80)}`;
  const echo = r.reply.json<{ pod: string; path: string; bodyBytes: number; bodySha256: string }>();
  const intact = echo.path === `/r/${r.i}` && echo.bodyBytes === (r.sent?.length ?? 0) && (!r.sent || echo.bodySha256 === sha(r.sent));
  return intact ? echo.pod : `${echo.pod} (body or path changed)`;
}

describe('draining a tunnel', () => {
  let h: Harness | undefined;
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await h?.close();
    h = undefined;
    for (const c of closers.splice(0)) await c();
  });

  it('lets requests in flight at Ctrl-C finish at the laptop; requests during the drain reach the app; none fails', async () => {
    h = await startHarness();
    const laptop = await startSlowLaptop(300);
    closers.push(() => laptop.close());
    h.setRoutes([userRoute('alice', 'alice-token')]);
    const tunnel = await h.developer('alice-token', { target: laptop.url });

    const inFlight = Array.from({ length: 12 }, (_, i) => aliceRequest(h!, i));
    await waitFor(() => laptop.received === 12, 'the laptop to receive all 12 requests');
    const closing = tunnel.close(); // what the CLI does on Ctrl-C
    // Requests keep arriving while the tunnel drains, from the first moment on.
    const during: Array<ReturnType<typeof aliceRequest>> = [];
    let n = 100;
    const sender = setInterval(() => { during.push(aliceRequest(h!, n++)); }, 5);
    during.push(aliceRequest(h!, n++));
    const info = await closing;
    clearInterval(sender);

    const first = (await Promise.all(inFlight)).map(classify);
    const later = (await Promise.all(during)).map(classify);
    expect(info.code).toBe(CLOSE.normal);
    expect(first).toEqual(Array(12).fill('laptop'));
    expect(later.length).toBeGreaterThan(5);
    expect(later.filter((w) => w !== 'app' && w !== 'laptop')).toEqual([]);
    expect(later.at(-1)).toBe('app');
    expect(laptop.received).toBe(12 + later.filter((w) => w === 'laptop').length);
  });

  it('answers requests during the drain with 503 when the fallback is Reject, never 502', async () => {
    h = await startHarness();
    const laptop = await startSlowLaptop(300);
    closers.push(() => laptop.close());
    h.setRoutes([userRoute('alice', 'alice-token', { fallback: 'Reject' })]);
    const tunnel = await h.developer('alice-token', { target: laptop.url });
    const inFlight = Array.from({ length: 4 }, (_, i) => aliceRequest(h!, i));
    await waitFor(() => laptop.received === 4, 'the laptop to receive 4 requests');
    const closing = tunnel.close();
    await waitFor(() => h!.sidecar.registry.count('shop/alice') === 0, 'the sidecar to see the drain');
    const during = await aliceRequest(h, 50);
    await closing;
    expect((await Promise.all(inFlight)).map(classify)).toEqual(Array(4).fill('laptop'));
    expect(during.reply.status).toBe(503);
    expect(String(during.reply.headers['x-detour-reason'])).toBe('service unavailable'); // generic to end clients (#12.9)
  });

  it('drains a tunnel the sidecar revokes (the intercept left the table): in-flight answered, code 4403', async () => {
    h = await startHarness();
    const laptop = await startSlowLaptop(300);
    closers.push(() => laptop.close());
    h.setRoutes([userRoute('alice', 'alice-token')]);
    const tunnel = await h.developer('alice-token', { target: laptop.url });
    const inFlight = Array.from({ length: 6 }, (_, i) => aliceRequest(h!, i));
    await waitFor(() => laptop.received === 6, 'the laptop to receive 6 requests');
    h.setRoutes([]); // `detour leave`, or the ttl ran out
    const after = await aliceRequest(h, 60);
    const info = await tunnel.closed;
    expect((await Promise.all(inFlight)).map(classify)).toEqual(Array(6).fill('laptop'));
    expect(classify(after)).toBe('app');
    expect(info.code).toBe(CLOSE.revoked);
    expect(laptop.received).toBe(6);
  });

  it('drains a tunnel whose intercept expired (ttl) at the next check: in-flight answered, later ones reach the app', async () => {
    let skewMs = 0;
    h = await startHarness({ now: () => Date.now() + skewMs });
    const laptop = await startSlowLaptop(300);
    closers.push(() => laptop.close());
    const expiring = [userRoute('alice', 'alice-token', { expiresAt: new Date(Date.now() + 60_000).toISOString() })];
    h.setRoutes(expiring);
    const tunnel = await h.developer('alice-token', { target: laptop.url });
    const inFlight = Array.from({ length: 6 }, (_, i) => aliceRequest(h!, i));
    await waitFor(() => laptop.received === 6, 'the laptop to receive 6 requests');
    skewMs = 120_000; // the ttl ran out
    const after = await aliceRequest(h, 80);
    h.setRoutes(expiring); // the next check (a table, or the 5 s timer) finds the route expired
    const info = await tunnel.closed;
    expect((await Promise.all(inFlight)).map(classify)).toEqual(Array(6).fill('laptop'));
    expect(classify(after)).toBe('app');
    expect(info.code).toBe(CLOSE.revoked);
  });

  it('keeps the older tunnel answering its requests when a newer one takes over', async () => {
    h = await startHarness();
    const oldLaptop = await startSlowLaptop(300, 'old-laptop');
    const newLaptop = await startSlowLaptop(0, 'new-laptop');
    closers.push(() => oldLaptop.close(), () => newLaptop.close());
    h.setRoutes([userRoute('alice', 'alice-token')]);
    const older = await h.developer('alice-token', { target: oldLaptop.url });
    const inFlight = Array.from({ length: 6 }, (_, i) => aliceRequest(h!, i));
    await waitFor(() => oldLaptop.received === 6, 'the old laptop to receive 6 requests');
    await h.developer('alice-token', { target: newLaptop.url });
    const next = await aliceRequest(h, 70);
    const closing = older.close();
    expect((await Promise.all(inFlight)).map(classify)).toEqual(Array(6).fill('old-laptop'));
    expect(classify(next)).toBe('new-laptop');
    await closing;
    expect(classify(await aliceRequest(h, 71))).toBe('new-laptop');
  });

  it('fails no request when developers leave while requests are sent back to back (15 leaves)', async () => {
    const harness = h = await startHarness();
    h.setRoutes([userRoute('alice', 'alice-token')]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const outcomes = new Map<string, number>();
    let sending = true;
    let n = 0;
    const sender = async (): Promise<void> => {
      while (sending) {
        const i = n++;
        const r = await request({ port: harness.proxyPort, path: `/r/${i}`, headers: ALICE, agent })
          .then((reply) => classify({ i, reply }), (err: NodeJS.ErrnoException) => `error ${err.code ?? err.message}`);
        outcomes.set(r, (outcomes.get(r) ?? 0) + 1);
      }
    };
    const senders = Array.from({ length: 16 }, () => sender());
    for (let leave = 0; leave < 15; leave++) {
      const tunnel = await h.developer('alice-token');
      await new Promise((r) => setTimeout(r, 20));
      await tunnel.close();
      await waitFor(() => harness.sidecar.registry.all().length === 0, 'the tunnel to leave the registry');
    }
    sending = false;
    await Promise.all(senders);
    agent.destroy();
    const failures = [...outcomes].filter(([what]) => what !== 'app' && what !== 'laptop');
    expect(failures).toEqual([]);
    expect(outcomes.get('laptop') ?? 0).toBeGreaterThan(0);
  });

  it('bounds the drain: a request the laptop never answers gets 502 once drainMs passed', async () => {
    h = await startHarness();
    const laptop = await startSlowLaptop(3_600_000);
    closers.push(() => laptop.close());
    h.setRoutes([userRoute('alice', 'alice-token')]);
    const tunnel = await h.developer('alice-token', { target: laptop.url });
    const held = aliceRequest(h, 1);
    await waitFor(() => laptop.received === 1, 'the laptop to receive the request');
    await tunnel.close({ drainMs: 200 });
    expect(classify(await held)).toMatch(/^502 upstream unavailable/);
  });
});
