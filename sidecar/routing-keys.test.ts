// Baggage, cookie and query routes through a real sidecar (issue 17), with real clients: Node's
// HTTP/1 client, Node's http2 client (h2c, which sends cookies as separate header fields) and
// @grpc/grpc-js (baggage as gRPC metadata), and the OpenTelemetry W3C propagator writing the header.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http2 from 'node:http2';
import { context, defaultTextMapSetter, propagation } from '@opentelemetry/api';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import { grpcEchoClient, startGrpcEchoServer, unary, type EchoClientApi, type GrpcEchoServer } from '../test/fixtures/grpc.js';
import { makeRoute, request, startHarness, type Harness } from '../test/fixtures/sidecar-harness.js';

const byBaggage = (token: string) => makeRoute('shop/bag', token, { createdAt: '2030-01-01T00:00:00Z', match: { headers: [], baggage: [{ key: 'detour-user', exact: 'alice' }] } });
const byCookie = (token: string) => makeRoute('shop/cookie', token, { createdAt: '2030-01-02T00:00:00Z', match: { headers: [], cookies: [{ name: 'detour-user', exact: 'carol' }] } });
const byQuery = (token: string) => makeRoute('shop/query', token, { createdAt: '2030-01-03T00:00:00Z', match: { headers: [], query: [{ name: 'detour-user', exact: 'dave' }] } });

/** A `baggage` header as an OpenTelemetry SDK writes it. */
function otelBaggage(entries: Record<string, string>): string {
  const carrier: Record<string, string> = {};
  const bag = propagation.createBaggage(Object.fromEntries(Object.entries(entries).map(([k, value]) => [k, { value }])));
  new W3CBaggagePropagator().inject(propagation.setBaggage(context.active(), bag), carrier, defaultTextMapSetter);
  return carrier.baggage!;
}

describe('HTTP/1 and h2c', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    h.setRoutes([byBaggage('t'), byCookie('t'), byQuery('t')]);
    await h.developer('t');
  });
  afterAll(async () => { await h.close(); });

  it.each<[string, { path?: string; headers?: Record<string, string | string[]> }, 'laptop' | 'app']>([
    ['baggage from OpenTelemetry, among other members', { headers: { baggage: otelBaggage({ tenant: 't 1', 'detour-user': 'alice' }) } }, 'laptop'],
    ['another baggage value', { headers: { baggage: otelBaggage({ 'detour-user': 'bob' }) } }, 'app'],
    ['two baggage header lines', { headers: { baggage: ['tenant=t1', 'detour-user=alice'] } }, 'laptop'],
    ['malformed baggage: app, not an error', { headers: { baggage: 'detour-user=al ice,,=' } }, 'app'],
    ['cookie among others', { headers: { cookie: 'session=1; detour-user=carol' } }, 'laptop'],
    ['two Cookie header lines', { headers: { cookie: ['session=1', 'detour-user=carol'] } }, 'laptop'],
    ['malformed cookie: app, not an error', { headers: { cookie: 'detour-user=car"ol' } }, 'app'],
    ['query parameter', { path: '/x?a=1&detour-user=dave' }, 'laptop'],
    ['query parameter, encoded', { path: '/x?detour-user=%64ave' }, 'laptop'],
    ['query parameter second value only', { path: '/x?detour-user=eve&detour-user=dave' }, 'app'],
    ['none', {}, 'app'],
  ])('HTTP/1: %s → %s', async (_n, o, where) => {
    const reply = await request({ port: h.proxyPort, path: o.path ?? '/', headers: o.headers ?? {} });
    expect(reply.status).toBe(200);
    expect(reply.json().pod).toBe(where);
    expect(reply.json().path).toBe(o.path ?? '/'); // the app or laptop receives the target as sent
  });

  it.each<[string, http2.OutgoingHttpHeaders, 'laptop' | 'app']>([
    ['h2c baggage', { baggage: 'detour-user=alice' }, 'laptop'],
    ['h2c cookie crumbs (separate cookie fields, RFC 9113 §8.2.3)', { cookie: ['session=1', 'detour-user=carol'] }, 'laptop'],
    ['h2c other cookie', { cookie: ['detour-user=bob'] }, 'app'],
  ])('%s → %s', async (_n, headers, where) => {
    const session = http2.connect(`http://127.0.0.1:${h.proxyPort}`);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const s = session.request({ ':path': '/h2', ...headers });
        let text = '';
        s.setEncoding('utf8');
        s.on('data', (d: string) => { text += d; });
        s.on('end', () => resolve(text));
        s.on('error', reject);
        s.end();
      });
      expect((JSON.parse(body) as { pod: string }).pod).toBe(where);
    } finally {
      session.close();
    }
  });
});

describe('gRPC metadata', () => {
  let app: GrpcEchoServer;
  let laptop: GrpcEchoServer;
  let h: Harness;
  let client: EchoClientApi;
  beforeAll(async () => {
    app = await startGrpcEchoServer({ pod: 'app' });
    laptop = await startGrpcEchoServer({ pod: 'laptop' });
    h = await startHarness({ ports: [{ name: 'http', appPort: app.port, listenPort: 0 }] });
    h.setRoutes([byBaggage('g')]);
    await h.developer('g', { target: laptop.url });
    client = grpcEchoClient(h.proxyPort);
  });
  afterAll(async () => {
    client.close();
    await h.close();
    await Promise.all([app.close(), laptop.close()]);
  });

  it.each<[string, Record<string, string>, string]>([
    ['baggage metadata written by OpenTelemetry', { baggage: otelBaggage({ 'detour-user': 'alice', tenant: 'x' }) }, 'laptop'],
    ['another member value', { baggage: otelBaggage({ 'detour-user': 'bob' }) }, 'app'],
    ['no baggage', {}, 'app'],
  ])('%s → %s', async (_n, metadata, pod) => {
    const o = await unary(client, Buffer.from('hi'), { metadata });
    expect(o.code).toBe(0);
    expect(o.trailers['x-pod']).toBe(pod);
  });
});
