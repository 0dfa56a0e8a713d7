// The control client against a small real WebSocket server playing the operator.

import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AckMessage, ReportMessage, SidecarToOperator } from '../core/control/protocol.js';
import { buildLogger } from '../core/logging.js';
import type { RoutingTable } from '../core/routing/table.js';
import { request, startHarness, userRoute, waitFor, WORKLOAD, type Harness } from '../test/fixtures/sidecar-harness.js';
import { buildCertificateAuthority, buildLeafCertificate, type KeyPairPem } from '../core/tls/certificates.js';
import { createServer as createHttpsServer } from 'node:https';
import { buildControlClient, parseOperatorMessage } from './control-client.js';

interface FakeOperator {
  port: number;
  url: string;
  connections: Array<{ auth: string | undefined; ws: WebSocket }>;
  received: SidecarToOperator[];
  /** TLS handshakes the client broke off (TLS operators only). */
  tlsErrors: number;
  push(table: RoutingTable, which?: number): void;
  close(): Promise<void>;
}

async function startOperator(port = 0, tls?: KeyPairPem): Promise<FakeOperator> {
  let https: ReturnType<typeof createHttpsServer> | undefined;
  let wss: WebSocketServer;
  if (tls) {
    https = createHttpsServer({ cert: tls.certPem, key: tls.keyPem });
    https.on('tlsClientError', () => { op.tlsErrors++; });
    wss = new WebSocketServer({ server: https });
    await new Promise<void>((r) => https!.listen(port, '127.0.0.1', () => r()));
  } else {
    wss = new WebSocketServer({ port, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
  }
  const op: FakeOperator = {
    port: ((https ?? wss).address() as net.AddressInfo).port,
    url: '',
    connections: [],
    received: [],
    tlsErrors: 0,
    push(table, which = op.connections.length - 1) { op.connections[which]!.ws.send(JSON.stringify({ type: 'table', table })); },
    close: () => new Promise<void>((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => { if (https) { https.close(() => resolve()); https.closeAllConnections(); } else resolve(); });
    }),
  };
  op.url = `${tls ? 'wss' : 'ws'}://127.0.0.1:${op.port}/control`;
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    op.connections.push({ auth: req.headers.authorization, ws });
    ws.on('message', (d) => op.received.push(JSON.parse(d.toString()) as SidecarToOperator));
  });
  return op;
}

const table = (epoch: string, version: number, routes = [userRoute('alice', 'alice-token')]): RoutingTable => ({ epoch, version, workload: WORKLOAD, routes });
const acks = (op: FakeOperator): AckMessage[] => op.received.filter((m): m is AckMessage => m.type === 'ack');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

describe('control client', () => {
  it('authenticates with the token file, swaps tables by epoch and version, acknowledges, and reports', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'detour-ctl-'));
    const tokenPath = join(dir, 'token');
    await writeFile(tokenPath, 'token-one\n');
    const op = await startOperator();
    let served = table('', 0, []);
    const client = buildControlClient({
      url: op.url,
      readToken: () => readFile(tokenPath, 'utf8'),
      logger: buildLogger({ name: 't', level: 'silent' }),
      onTable: (t) => { if (t.epoch !== served.epoch || t.version > served.version) served = t; return served; },
      report: (): ReportMessage => ({ type: 'report', pod: 'checkout-1', intercepts: { 'shop/alice': { clients: 0, routed: 0, fallback: 0 } } }),
      initialDelayMs: 20,
      maxDelayMs: 100,
    });
    cleanups.push(async () => { await client.stop(); await op.close(); await rm(dir, { recursive: true }); });
    client.start();
    await waitFor(() => op.connections.length === 1 && client.connected, 'the first connection');
    expect(op.connections[0]!.auth).toBe('Bearer token-one');
    await waitFor(() => op.received.some((m) => m.type === 'report'), 'a report on connect');
    expect(op.received.find((m) => m.type === 'report')).toMatchObject({ pod: 'checkout-1' });

    op.push(table('e1', 3));
    await waitFor(() => acks(op).length === 1);
    expect(acks(op)[0]).toEqual({ type: 'ack', epoch: 'e1', version: 3 });

    op.push(table('e1', 2, [])); // stale: same epoch, lower version
    await waitFor(() => acks(op).length === 2);
    expect(acks(op)[1]).toEqual({ type: 'ack', epoch: 'e1', version: 3 });
    expect(served.version).toBe(3);

    op.connections[0]!.ws.send('{"type":"nonsense"}'); // ignored, connection stays
    op.push(table('e2', 1)); // a new leader numbers from scratch
    await waitFor(() => acks(op).length === 3);
    expect(acks(op)[2]).toEqual({ type: 'ack', epoch: 'e2', version: 1 });
    expect(op.connections).toHaveLength(1);

    // The operator goes away; the token rotates; the operator comes back on the same port.
    const port = op.port;
    await op.close();
    await waitFor(() => !client.connected, 'the disconnect');
    expect(served).toMatchObject({ epoch: 'e2', version: 1 });
    await writeFile(tokenPath, 'token-two\n');
    const op2 = await startOperator(port);
    cleanups.push(() => op2.close());
    await waitFor(() => op2.connections.length === 1 && client.connected, 'the reconnect');
    expect(op2.connections[0]!.auth).toBe('Bearer token-two');
  });

  it('keeps routing with the last table while the operator is away, and is ready without it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'detour-ctl-'));
    await writeFile(join(dir, 'token'), 'tok');
    const op = await startOperator();
    const h: Harness = await startHarness({ control: { url: op.url, readToken: () => readFile(join(dir, 'token'), 'utf8') } });
    cleanups.push(async () => { await h.close(); await op.close(); await rm(dir, { recursive: true }); });

    const ready = await fetch(`${h.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
    await waitFor(() => op.connections.length === 1);
    op.push(table('e1', 1));
    await waitFor(() => acks(op).length === 1);
    await h.developer('alice-token');
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('laptop');
    await waitFor(() => op.received.some((m) => m.type === 'report' && m.intercepts['shop/alice']?.clients === 1), 'a report with the client');

    await op.close();
    for (let i = 0; i < 400; i++) {
      const status = (await (await fetch(`${h.adminUrl}/readyz`)).json()) as { operatorConnected: boolean };
      if (!status.operatorConnected) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await (await fetch(`${h.adminUrl}/readyz`)).json()).toMatchObject({ ready: true, operatorConnected: false, tableVersion: 1 });
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).json().pod).toBe('laptop');
    expect((await fetch(`${h.adminUrl}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${h.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/detour_sidecar_requests_total\{port="http",intercept="shop\/alice",result="developer"\} 2/);
    expect(metrics).toMatch(/detour_sidecar_tunnel_bytes_total\{intercept="shop\/alice",direction="to_developer"\} \d+/);
    expect(metrics).toMatch(/detour_sidecar_request_duration_seconds_bucket/);
    expect(metrics).toMatch(/detour_sidecar_tunnel_active_streams/);
    expect(metrics).toMatch(/detour_sidecar_routing_table_version 1/);
    expect((await fetch(`${h.adminUrl}/healthz`)).status).toBe(200);
  });
});

describe('control channel over TLS (issue 12.4)', () => {
  const now = new Date();
  const caA = buildCertificateAuthority({ commonName: 'detour-ca-a', now });
  const caB = buildCertificateAuthority({ commonName: 'detour-ca-b', now });
  const servedByA = buildLeafCertificate({ ca: caA, commonName: 'detour-operator', ipAddresses: ['127.0.0.1'], now, usage: 'server' });

  async function sidecarAgainst(op: FakeOperator, ca: string): Promise<Harness> {
    const dir = await mkdtemp(join(tmpdir(), 'detour-ctl-'));
    await writeFile(join(dir, 'token'), 'secret-token');
    const h = await startHarness({ control: { url: op.url, readToken: () => readFile(join(dir, 'token'), 'utf8'), webSocketOptions: { ca } } });
    cleanups.push(async () => { await h.close(); await rm(dir, { recursive: true }); });
    return h;
  }

  it('refuses an operator whose certificate comes from another CA, and never sends it the token', async () => {
    const op = await startOperator(0, servedByA);
    cleanups.push(() => op.close());
    const h = await sidecarAgainst(op, caB.certPem);
    await waitFor(() => op.tlsErrors >= 1, 'a broken-off handshake');
    await new Promise((r) => setTimeout(r, 300));
    expect(op.connections).toHaveLength(0);
    expect(await (await fetch(`${h.adminUrl}/readyz`)).json()).toMatchObject({ ready: true, operatorConnected: false, tableVersion: 0 });
  });

  it('trusts a bundle with the old and the new CA (rotation), and refuses tables of an older term', async () => {
    const op = await startOperator(0, servedByA);
    cleanups.push(() => op.close());
    const h = await sidecarAgainst(op, caB.certPem + caA.certPem);
    await waitFor(() => op.connections.length === 1, 'a verified connection');
    expect(op.connections[0]!.auth).toBe('Bearer secret-token');
    op.push(table('5.aaaa', 1));
    await waitFor(() => acks(op).length === 1);
    op.push(table('4.bbbb', 99, [])); // a deposed leader's table: refused, the current one is acknowledged
    await waitFor(() => acks(op).length === 2);
    expect(acks(op)[1]).toEqual({ type: 'ack', epoch: '5.aaaa', version: 1 });
    expect(await (await fetch(`${h.adminUrl}/readyz`)).json()).toMatchObject({ tableEpoch: '5.aaaa', tableVersion: 1 });
  });
});

describe('parseOperatorMessage', () => {
  it.each([
    ['not json', /not JSON/],
    ['[]', /unknown message type/],
    ['{"type":"table"}', /table missing/],
    ['{"type":"table","table":{"version":"1","epoch":"e","routes":[]}}', /version/],
    ['{"type":"table","table":{"version":1,"epoch":"e","routes":[{"intercept":"a"}]}}', /malformed route/],
  ])('rejects %s', (text, reason) => {
    const r = parseOperatorMessage(text);
    expect('error' in r && r.error).toMatch(reason);
  });

  it('accepts a table with an Outbound route (the token of detour run; routes nothing)', () => {
    const route = { intercept: 'shop/run', port: 'http', mode: 'Outbound', fallback: 'App', tokenHash: 'ab'.repeat(32) };
    expect(parseOperatorMessage(JSON.stringify({ type: 'table', table: { ...table('e', 2), routes: [route] } }))).toMatchObject({ type: 'table', table: { routes: [route] } });
  });

  it('accepts a table', () => {
    expect(parseOperatorMessage(JSON.stringify({ type: 'table', table: table('e', 1) }))).toMatchObject({ type: 'table', table: { version: 1 } });
  });
});

