// gRPC through the sidecar with a real client and server (@grpc/grpc-js on both ends): the app
// path, the developer path (sidecar → tunnel → developer end → local grpc-js server) and Mirror.
// Every case also runs straight against the app's port ("direct"), which shows what the client must
// see: the sidecar may not change it.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { createHash, randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import type { TunnelRequestEvent } from '../core/tunnel/developer.js';
import {
  bidi, clientStream, grpcEchoClient, serverStream, startGrpcEchoServer, TRAILER_BIN, unary,
  type EchoClientApi, type GrpcCallRecord, type GrpcEchoServer, type GrpcOutcome,
} from '../test/fixtures/grpc.js';
import { startHarness, userRoute, waitFor, type Harness } from '../test/fixtures/sidecar-harness.js';

const ALICE = { 'x-detour-user': 'alice' };
const { status } = grpc;
const ERROR_CODES = Object.values(status).filter((c): c is number => typeof c === 'number' && c !== status.OK);

let app: GrpcEchoServer;
let laptop: GrpcEchoServer;
let h: Harness;
let direct: EchoClientApi;
let viaSidecar: EchoClientApi;
const events: TunnelRequestEvent[] = [];

beforeAll(async () => {
  app = await startGrpcEchoServer({ pod: 'app' });
  laptop = await startGrpcEchoServer({ pod: 'laptop' });
  h = await startHarness({ ports: [{ name: 'http', appPort: app.port, listenPort: 0 }] });
  h.setRoutes([userRoute('alice', 'alice-token')]);
  await h.developer('alice-token', { target: laptop.url, onRequest: (e) => events.push(e) });
  direct = grpcEchoClient(app.port);
  viaSidecar = grpcEchoClient(h.proxyPort);
});
afterAll(async () => {
  direct.close();
  viaSidecar.close();
  await h.close();
  await Promise.all([app.close(), laptop.close()]);
});

let nextId = 0;
/** A fresh call id in metadata, to find the call on the server. */
function tagged(extra: Record<string, string> = {}): { id: string; metadata: Record<string, string> } {
  const id = `call-${++nextId}`;
  return { id, metadata: { 'x-test-id': id, ...extra } };
}

function callOn(server: GrpcEchoServer, id: string): GrpcCallRecord | undefined {
  return server.calls.find((c) => c.metadata['x-test-id'] === id);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** What a test compares: the status, details and the metadata a user reads. */
function seen(o: GrpcOutcome): { code: number; details: string; pod: unknown; text: unknown; bin: string | undefined; headersPod: unknown } {
  const bin = o.trailers['x-trailer-bin'];
  return {
    code: o.code, details: o.details, pod: o.trailers['x-pod'], text: o.trailers['x-trailer-text'],
    bin: Buffer.isBuffer(bin) ? bin.toString('hex') : undefined, headersPod: o.headers?.['x-pod'],
  };
}

interface PathCase {
  name: string;
  client: () => EchoClientApi;
  server: () => GrpcEchoServer;
  metadata: Record<string, string>;
  pod: string;
}

const PATHS: PathCase[] = [
  { name: 'direct to the app (reference)', client: () => direct, server: () => app, metadata: {}, pod: 'app' },
  { name: 'sidecar → app', client: () => viaSidecar, server: () => app, metadata: {}, pod: 'app' },
  { name: 'sidecar → tunnel → developer', client: () => viaSidecar, server: () => laptop, metadata: ALICE, pod: 'laptop' },
];

describe.each(PATHS)('gRPC $name', ({ client, server, metadata, pod }) => {
  it('answers a unary call with its response metadata and ASCII and binary trailers', async () => {
    const o = await unary(client(), Buffer.from('ping'), { metadata });
    expect(seen(o)).toEqual({ code: status.OK, details: 'OK', pod, text: `trailer from ${pod}`, bin: TRAILER_BIN.toString('hex'), headersPod: pod });
    expect(o.messages.map(String)).toEqual(['ping']);
  });

  const details = (code: number): string => `${status[code]} détails ✓ 100% "quoted"`;
  const expected = (code: number, headersPod: string | undefined) => ({
    code, details: details(code), pod, text: `trailer from ${pod}`, bin: TRAILER_BIN.toString('hex'), headersPod,
  });
  const want = (code: number, extra: Record<string, string> = {}) => ({ metadata: { ...metadata, 'want-status': String(code), 'want-details': encodeURIComponent(details(code)), ...extra } });

  it('carries every error status as a trailers-only response, with details and trailer metadata', async () => {
    const outcomes = await Promise.all(ERROR_CODES.map((code) => unary(client(), Buffer.from('x'), want(code))));
    expect(outcomes.map(seen)).toEqual(ERROR_CODES.map((code) => expected(code, undefined)));
  });

  it('carries every error status in normal trailers after response headers', async () => {
    const outcomes = await Promise.all(ERROR_CODES.map((code) => unary(client(), Buffer.from('x'), want(code, { 'want-headers': '1' }))));
    expect(outcomes.map(seen)).toEqual(ERROR_CODES.map((code) => expected(code, pod)));
  });

  it('carries every error status after response messages (server streaming)', async () => {
    const outcomes = await Promise.all(ERROR_CODES.map((code) => serverStream(client(), Buffer.from('m'), want(code, { 'want-count': '3' }))));
    expect(outcomes.map(seen)).toEqual(ERROR_CODES.map((code) => expected(code, pod)));
    expect(outcomes.map((o) => o.messages.length)).toEqual(ERROR_CODES.map(() => 3));
  });

  it('carries a server-streaming call message by message', async () => {
    const o = await serverStream(client(), Buffer.from('tick'), { metadata: { ...metadata, 'want-count': '100' } });
    expect(o.code).toBe(status.OK);
    expect(o.messages).toHaveLength(100);
    expect(new Set(o.messages.map(String))).toEqual(new Set(['tick']));
    expect(o.trailers['x-pod']).toBe(pod);
  });

  it('carries a client-streaming call whole', async () => {
    const msgs = Array.from({ length: 200 }, (_, i) => randomBytes(i * 97));
    const o = await clientStream(client(), msgs, { metadata });
    expect(o.code).toBe(status.OK);
    expect(JSON.parse(String(o.messages[0]))).toEqual({ count: 200, bytes: msgs.reduce((n, m) => n + m.length, 0), sha256: sha(Buffer.concat(msgs)) });
  });

  it('carries a bidirectional stream in order', async () => {
    const msgs = Array.from({ length: 50 }, (_, i) => Buffer.from(`m${i}`.repeat(i + 1)));
    const o = await bidi(client(), msgs, { metadata });
    expect(o.code).toBe(status.OK);
    expect(o.messages.map(String)).toEqual(msgs.map(String));
  });

  it('delivers the status of a server that fails while the client is still streaming', async () => {
    const { id, metadata: md } = tagged({ ...metadata, 'want-status': String(status.INVALID_ARGUMENT), 'want-details': 'third message was bad', 'want-fail-after': '3' });
    // Far more than the windows hold: the client is still sending when the status comes back.
    const msgs = (function* () { for (let i = 0; i < 2000; i++) yield Buffer.alloc(64 * 1024, i); })();
    const o = await clientStream(client(), msgs, { metadata: md });
    expect(seen(o)).toMatchObject({ code: status.INVALID_ARGUMENT, details: 'third message was bad', pod, bin: TRAILER_BIN.toString('hex') });
    expect(callOn(server(), id)!.messages).toBeLessThan(2000);
  });

  it('passes the deadline on; the client gets DEADLINE_EXCEEDED and the server sees the call end', async () => {
    const { id, metadata: md } = tagged({ ...metadata, 'want-hold': '1' });
    const o = await unary(client(), Buffer.from('slow'), { metadata: md, deadline: new Date(Date.now() + 500) });
    expect(o.code).toBe(status.DEADLINE_EXCEEDED);
    const rec = callOn(server(), id)!;
    expect(rec.deadline).toBeDefined(); // grpc-timeout reached the server
    await waitFor(() => rec.cancelled, 'the server to see the deadline');
  });

  it('propagates a client cancelling to the server', async () => {
    const { id, metadata: md } = tagged({ ...metadata, 'want-hold': '1' });
    let call: grpc.Call | undefined;
    const outcome = bidi(client(), [Buffer.from('a')], { metadata: md, onCall: (c) => { call = c; } });
    await waitFor(() => callOn(server(), id)?.messages === 1, 'the call to reach the server');
    call!.cancel();
    expect((await outcome).code).toBe(status.CANCELLED);
    await waitFor(() => callOn(server(), id)!.cancelled, 'the server to see the cancel');
  });

  it('carries messages of several MiB both ways', async () => {
    const big = randomBytes(8 * 1024 * 1024);
    const one = await unary(client(), big, { metadata });
    expect(one.code).toBe(status.OK);
    expect(sha(one.messages[0]!)).toBe(sha(big));

    const parts = [randomBytes(3 << 20), randomBytes(5 << 20), randomBytes(1 << 20)];
    const up = await clientStream(client(), parts, { metadata });
    expect(JSON.parse(String(up.messages[0]))).toEqual({ count: 3, bytes: 9 << 20, sha256: sha(Buffer.concat(parts)) });

    const down = await serverStream(client(), parts[1]!, { metadata: { ...metadata, 'want-count': '3' } });
    expect(down.code).toBe(status.OK);
    expect(down.messages.map(sha)).toEqual([sha(parts[1]!), sha(parts[1]!), sha(parts[1]!)]);
  });
});

describe('gRPC under a Mirror intercept', () => {
  beforeAll(() => { h.setRoutes([userRoute('alice', 'alice-token', { mode: 'Mirror' })]); });
  afterAll(() => { h.setRoutes([userRoute('alice', 'alice-token')]); });

  it('lets the app answer and copies the call to the developer', async () => {
    const { id, metadata: md } = tagged(ALICE);
    const o = await unary(viaSidecar, Buffer.from('copy me'), { metadata: md });
    expect(seen(o)).toMatchObject({ code: status.OK, pod: 'app', headersPod: 'app' });
    expect(o.messages.map(String)).toEqual(['copy me']);
    await waitFor(() => callOn(laptop, id) !== undefined, 'the copy to reach the developer');
    expect(callOn(laptop, id)).toMatchObject({ method: 'Unary', bytes: 7 });
    expect(callOn(app, id)).toMatchObject({ method: 'Unary', bytes: 7 });
  });

  it('returns the app\'s trailers-only error with its metadata', async () => {
    const { id, metadata: md } = tagged({ ...ALICE, 'want-status': String(status.NOT_FOUND), 'want-details': 'no such order' });
    const o = await unary(viaSidecar, Buffer.from('x'), { metadata: md });
    expect(seen(o)).toEqual({ code: status.NOT_FOUND, details: 'no such order', pod: 'app', text: 'trailer from app', bin: TRAILER_BIN.toString('hex'), headersPod: undefined });
    await waitFor(() => callOn(laptop, id) !== undefined, 'the copy to reach the developer');
  });

  it('copies a client-streaming call message by message', async () => {
    const { id, metadata: md } = tagged(ALICE);
    const msgs = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1000 + i, i));
    const o = await clientStream(viaSidecar, msgs, { metadata: md });
    expect(o.code).toBe(status.OK);
    expect(o.headers?.['x-pod']).toBe('app');
    await waitFor(() => callOn(laptop, id)?.messages === 20, 'the whole copy to reach the developer');
  });
});

describe('forged tunnel markers on h2c', () => {
  const FORGED = { 'x-detour-tunnel-upgrade': 'websocket', 'x-detour-tunnel-mirror': '1', 'x-detour-tunnel-status': '101' };
  const markers = (rec: GrpcCallRecord | undefined): string[] => Object.keys(rec?.metadata ?? {}).filter((k) => k.startsWith('x-detour-tunnel-'));

  it('do not turn a stolen gRPC call into a raw pipe or a mirror copy', async () => {
    events.length = 0;
    const { id, metadata: md } = tagged({ ...ALICE, ...FORGED });
    const o = await unary(viaSidecar, Buffer.from('hello'), { metadata: md });
    expect(seen(o)).toMatchObject({ code: status.OK, pod: 'laptop' });
    expect(markers(callOn(laptop, id))).toEqual([]);
    await waitFor(() => events.length === 1, 'the developer end to report the call');
    expect(events[0]).toMatchObject({ upgrade: false, mirror: false, protocol: 'h2', intercept: 'shop/alice', status: 200 });
  });

  it('do not reach the app', async () => {
    const { id, metadata: md } = tagged(FORGED);
    const o = await unary(viaSidecar, Buffer.from('hello'), { metadata: md });
    expect(seen(o)).toMatchObject({ code: status.OK, pod: 'app' });
    expect(markers(callOn(app, id))).toEqual([]);
  });

  it('do not break the copy of a Mirror intercept', async () => {
    h.setRoutes([userRoute('alice', 'alice-token', { mode: 'Mirror' })]);
    try {
      events.length = 0;
      const { id, metadata: md } = tagged({ ...ALICE, ...FORGED });
      const o = await unary(viaSidecar, Buffer.from('hello'), { metadata: md });
      expect(seen(o)).toMatchObject({ code: status.OK, pod: 'app' });
      await waitFor(() => events.length === 1, 'the developer end to report the copy');
      expect(events[0]).toMatchObject({ upgrade: false, mirror: true, protocol: 'h2', status: 200 });
      expect(markers(callOn(laptop, id))).toEqual([]);
    } finally {
      h.setRoutes([userRoute('alice', 'alice-token')]);
    }
  });

  it('are stripped from plain HTTP/2 requests to the developer too', async () => {
    // Node's own http2 client (not gRPC): a forged upgrade marker must not make the developer end dial HTTP/1.
    events.length = 0;
    const session = http2.connect(`http://127.0.0.1:${h.proxyPort}`);
    try {
      const st = await new Promise<number>((resolve, reject) => {
        const s = session.request({ ':method': 'POST', ':path': `/detour.echo.v1.Echo/Unary`, 'content-type': 'application/grpc', te: 'trailers', ...ALICE, ...FORGED });
        s.on('response', (hd) => resolve(Number(hd[':status'])));
        s.on('error', reject);
        s.end(Buffer.from([0, 0, 0, 0, 0]));
        s.resume();
      });
      expect(st).toBe(200);
      await waitFor(() => events.length === 1, 'the developer end to report the call');
      expect(events[0]).toMatchObject({ upgrade: false, mirror: false });
    } finally {
      session.close();
    }
  });
});

describe('the sidecar\'s own failures reach gRPC clients as gRPC statuses with the reason', () => {
  let fh: Harness;
  let client: EchoClientApi;
  let closedPort: number;
  beforeAll(async () => {
    closedPort = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => resolve(p)); });
    });
    fh = await startHarness({ ports: [{ name: 'http', appPort: app.port, listenPort: 0 }] });
    client = grpcEchoClient(fh.proxyPort);
  });
  afterAll(async () => { client.close(); await fh.close(); });

  it('Reject without a developer → UNAVAILABLE', async () => {
    fh.setRoutes([userRoute('alice', 'alice-token', { fallback: 'Reject' })]);
    const o = await unary(client, Buffer.from('x'), { metadata: ALICE });
    expect(o.code).toBe(status.UNAVAILABLE);
    expect(o.details).toBe('service unavailable'); // generic: end clients never learn intercept names (#12.9)
    expect((await unary(client, Buffer.from('x'))).code).toBe(status.OK);
  });

  it('a developer who goes away while a call waits → UNAVAILABLE; before and after the response started', async () => {
    fh.setRoutes([userRoute('alice', 'alice-token')]);
    const tunnel = await fh.developer('alice-token', { target: laptop.url });
    const waiting = tagged({ ...ALICE, 'want-hold': '1' });
    const streaming = tagged({ ...ALICE, 'want-hold': '1' });
    const before = unary(client, Buffer.from('x'), { metadata: waiting.metadata });
    let echoed = false;
    const after = bidi(client, [Buffer.from('first')], { metadata: streaming.metadata, onCall: (c) => (c as grpc.ClientDuplexStream<Buffer, Buffer>).on('data', () => { echoed = true; }) });
    await waitFor(() => callOn(laptop, waiting.id) !== undefined && echoed, 'the unary call to reach the laptop and the bidi call to get its first answer');
    await tunnel.terminate();
    const [b, a] = await Promise.all([before, after]);
    expect({ code: b.code, details: b.details }).toEqual({ code: status.UNAVAILABLE, details: 'upstream unavailable' });
    expect({ code: a.code, details: a.details, messages: a.messages.map(String) }).toEqual({ code: status.UNAVAILABLE, details: 'upstream unavailable', messages: ['first'] });
  });

  it('a developer whose local server is down → UNAVAILABLE naming it', async () => {
    fh.setRoutes([userRoute('alice', 'alice-token')]);
    const tunnel = await fh.developer('alice-token', { target: `http://127.0.0.1:${closedPort}` });
    try {
      const o = await unary(client, Buffer.from('x'), { metadata: ALICE });
      expect({ code: o.code, details: o.details }).toEqual({ code: status.UNAVAILABLE, details: `local server 127.0.0.1:${closedPort} not reachable` });
    } finally {
      await tunnel.close();
    }
  });

  it('the app down → UNAVAILABLE naming it', async () => {
    const down = await startHarness({ ports: [{ name: 'http', appPort: closedPort, listenPort: 0 }] });
    const c = grpcEchoClient(down.proxyPort);
    try {
      const o = await unary(c, Buffer.from('x'));
      expect({ code: o.code, details: o.details }).toEqual({ code: status.UNAVAILABLE, details: 'upstream unavailable' });
    } finally {
      c.close();
      await down.close();
    }
  });
});
