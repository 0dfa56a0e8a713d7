// Resource limits under a flood (bounded counts, loopback only): silent and slow-header
// connections, slow request bodies, idle h2c sessions and too many tunnels must leave the sidecar
// serving normal requests, and every refusal is counted in detour_sidecar_limit_refusals_total.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http2 from 'node:http2';
import net from 'node:net';
import { connectTunnel, TunnelRefusedError } from '../core/tunnel/developer.js';
import { keepTunnel } from '../cli/replica-tunnel.js';
import WebSocket from 'ws';
import { startEchoServer } from '../test/fixtures/echo-server.js';
import { startRecordingServer, type RecordingServer } from '../test/fixtures/recording-server.js';
import { request, startHarness, userRoute, waitFor, type Harness } from '../test/fixtures/sidecar-harness.js';

let h: Harness;
let app: RecordingServer;
const MAX_CONNECTIONS = 40;

beforeAll(async () => {
  app = await startRecordingServer();
  h = await startHarness({
    ports: [{ name: 'http', appPort: app.port, listenPort: 0 }],
    limits: { maxConnections: MAX_CONNECTIONS, requestTimeoutSeconds: 2, headersTimeoutSeconds: 5, idleTimeoutSeconds: 0.3, maxTunnels: 3, maxTunnelsPerToken: 2 },
  });
  h.setRoutes([userRoute('alice', 'alice-token'), userRoute('bob', 'bob-token'), userRoute('carol', 'carol-token')]);
});
afterAll(async () => { await h.close(); await app.close(); });

async function refusals(limit: string): Promise<number> {
  const metric = await h.sidecar.metrics.limitRefusals.get();
  return metric.values.find((v) => v.labels.limit === limit)?.value ?? 0;
}

interface Flooder {
  socket: net.Socket;
  /** Everything the sidecar answered. */
  received: string;
  closed: Promise<void>;
}

/** Opens a connection, writes `data` once connected, and records what comes back until the close. */
function flood(data: string): Promise<Flooder> {
  return new Promise((resolve) => {
    const socket = net.connect(h.proxyPort, '127.0.0.1');
    const f: Flooder = { socket, received: '', closed: new Promise((r) => socket.once('close', () => r())) };
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => { f.received += c; });
    socket.on('error', () => undefined);
    socket.once('connect', () => { if (data) socket.write(data); resolve(f); });
    socket.once('close', () => resolve(f));
  });
}

const normal = async (n: number): Promise<number[]> => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await request({ port: h.proxyPort, path: `/normal/${i}` })).status);
  return out;
};

describe('connection limit', () => {
  it('keeps serving through a flood of silent and slow-header connections, closing idle ones first', async () => {
    const rssBefore = process.memoryUsage().rss;
    const flooders: Flooder[] = [];
    for (let i = 0; i < 200; i++) flooders.push(await flood(''));
    for (let i = 0; i < 50; i++) flooders.push(await flood('GET /slowloris HTTP/1.1\r\nHost: x\r\n')); // head never finished
    expect(await normal(20)).toEqual(Array(20).fill(200));
    // The sidecar never held more than its limit: all but MAX_CONNECTIONS flood connections were closed.
    await waitFor(() => flooders.filter((f) => f.socket.destroyed).length >= flooders.length - MAX_CONNECTIONS, 'the sidecar to close flood connections');
    expect(await refusals('idle_evicted')).toBeGreaterThanOrEqual(flooders.length - MAX_CONNECTIONS);
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    expect(rssGrowth).toBeLessThan(64 * 1024 * 1024); // generous: well under the sidecar's 128 Mi limit
    for (const f of flooders) f.socket.destroy();
  });

  it('refuses new connections when every slot is busy, and frees slow bodies with 408', async () => {
    app.reset();
    const slow: Flooder[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i++) slow.push(await flood('POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nfirst bytes only'));
    await waitFor(() => app.requests.length === MAX_CONNECTIONS, 'every slow request to reach the app');
    // Every slot holds a request in flight: a new connection is refused, not queued.
    const late: Flooder[] = [];
    for (let i = 0; i < 10; i++) late.push(await flood('GET /late HTTP/1.1\r\nHost: x\r\n\r\n'));
    await Promise.all(late.map((f) => f.closed));
    expect(late.map((f) => f.received)).toEqual(Array(10).fill(''));
    expect(await refusals('connections')).toBeGreaterThanOrEqual(10);
    // Every slow body ends: answered 408 (request timeout) or refused at the door.
    await Promise.all(slow.map((f) => f.closed));
    const timedOut = slow.filter((f) => /^HTTP\/1\.1 408 /.test(f.received));
    expect(timedOut.length).toBeGreaterThan(0);
    for (const f of timedOut) expect(f.received).toMatch(/\r\nConnection: close\r\n/);
    expect(timedOut).toHaveLength(MAX_CONNECTIONS);
    expect(await refusals('request_timeout')).toBe(MAX_CONNECTIONS);
    // The app saw the slow requests cut off, never completed (and the sidecar has let go of them).
    await waitFor(() => app.requests.every((r) => r.closed), 'the app to see the aborts');
    expect(app.requests.filter((r) => r.complete)).toEqual([]);
    expect(await normal(5)).toEqual(Array(5).fill(200));
  });
});

describe('request timeout', () => {
  it('does not cut WebSockets or slow responses that outlive it (it bounds only how long a request takes to arrive)', async () => {
    const echo = await startEchoServer({ pod: 'echo' });
    const side = await startHarness({ ports: [{ name: 'http', appPort: echo.port, listenPort: 0 }], limits: { requestTimeoutSeconds: 0.2, headersTimeoutSeconds: 5 } });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${side.proxyPort}/ws`);
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      const stream = request({ port: side.proxyPort, path: '/stream?chunks=6&delayMs=150' }); // ~0.9 s of response
      await new Promise((r) => setTimeout(r, 800)); // four request timeouts
      const echoed = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
      ws.send('still here');
      expect(await echoed).toBe('still here');
      const streamed = await stream;
      expect(streamed.status).toBe(200);
      expect(streamed.body.toString().split('\n').filter(Boolean)).toHaveLength(6);
      ws.close();
    } finally {
      await side.close();
      await echo.close();
    }
  });
});

describe('h2c idle timeout', () => {
  it('closes an h2c connection that has no open stream', async () => {
    const before = await refusals('h2_idle');
    const session = http2.connect(`http://127.0.0.1:${h.proxyPort}`);
    session.on('error', () => undefined);
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    await new Promise<void>((resolve) => session.once('connect', () => resolve()));
    await goaway;
    expect(await refusals('h2_idle')).toBe(before + 1);
    session.destroy();
  });
});

describe('tunnel limits', () => {
  it('bounds tunnels per token and in total, with a reason; requests keep flowing', async () => {
    const a1 = await h.developer('alice-token');
    const a2 = await h.developer('alice-token');
    const third = connectTunnel({ url: h.tunnelUrl, token: 'alice-token', target: h.laptop.url });
    await expect(third).rejects.toBeInstanceOf(TunnelRefusedError);
    await expect(third).rejects.toMatchObject({ status: 429, reason: expect.stringMatching(/this token already has 2 tunnels/) });
    const b1 = await h.developer('bob-token');
    await expect(connectTunnel({ url: h.tunnelUrl, token: 'carol-token', target: h.laptop.url })).rejects.toMatchObject({ status: 503, reason: expect.stringMatching(/already has 3 developer tunnels/) });
    expect(await refusals('tunnels_per_token')).toBe(1);
    expect(await refusals('tunnels')).toBe(1);
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('laptop');
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'carol' } })).json().pod).toBeUndefined(); // the (recording) app
    // A slot frees when a tunnel goes.
    await a1.close();
    await waitFor(() => h.sidecar.registry.all().length === 2);
    const c1 = await h.developer('carol-token');
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'carol' } })).json().pod).toBe('laptop');
    await Promise.all([a2.close(), b1.close(), c1.close()]);
  });

  it("lets the CLI's reconnect loop retry a 429 and connect once a slot frees", async () => {
    await waitFor(() => h.sidecar.registry.all().length === 0);
    const a1 = await h.developer('alice-token');
    const a2 = await h.developer('alice-token');
    const warnings: string[] = [];
    let connected = 0;
    const kept = keepTunnel({
      label: 'checkout-1', random: () => 0, refreshToken: () => undefined, onRequest: () => undefined,
      connect: (onRequest) => connectTunnel({ url: h.tunnelUrl, token: 'alice-token', target: h.laptop.url, onRequest }),
      screen: { info: () => undefined, warn: (l) => warnings.push(l) },
      onConnected: () => { connected++; },
    });
    try {
      await waitFor(() => warnings.filter((w) => /refused: HTTP 429 — this token already has 2 tunnels/.test(w)).length >= 2, 'two refused attempts');
      await a1.close();
      await waitFor(() => connected === 1, 'the retry to connect');
    } finally {
      await kept.stop();
      await a2.close();
    }
  });
});
