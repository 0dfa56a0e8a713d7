// The control server against a real `ws` client: what a sidecar reports reaches the hub only when
// it is valid (the authentication step is the injected dependency; TokenReview is covered by the
// operator integration suite).
import { afterEach, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { buildLogger } from '../../core/logging.js';
import type { WorkloadRef } from '../../core/routing/table.js';
import { ControlHub } from './hub.js';
import { buildCertificateAuthority, buildLeafCertificate, type KeyPairPem } from '../../core/tls/certificates.js';
import { buildControlServer, setControlCertificate } from './server.js';

const workload: WorkloadRef = { kind: 'Deployment', namespace: 'shop', name: 'checkout' };
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function start(tls?: KeyPairPem): Promise<{ hub: ControlHub; url: string }> {
  const hub = new ControlHub(() => undefined);
  hub.reset('e1');
  const server = buildControlServer({
    tls: tls !== undefined,
    hub,
    logger: buildLogger({ name: 't', level: 'silent' }),
    authenticate: async () => ({ namespace: 'shop', pod: 'checkout-1', workload }),
    accepting: () => true,
  });
  if (tls) setControlCertificate(server, tls);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }));
  return { hub, url: `${tls ? 'wss' : 'ws'}://127.0.0.1:${(server.address() as AddressInfo).port}/control` };
}

async function connect(url: string, ca?: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { authorization: 'Bearer t' }, ...(ca ? { ca } : {}) });
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  cleanups.push(async () => { ws.terminate(); });
  return ws;
}

const until = async (ok: () => boolean) => { for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10)); };

describe('control server', () => {
  it('refuses a report whose clients are not a bounded integer, so status keeps a number', async () => {
    const { hub, url } = await start();
    const ws = await connect(url);
    await until(() => hub.count() === 1);
    ws.send(JSON.stringify({ type: 'report', pod: 'checkout-1', intercepts: { 'shop/alice': { clients: 1e9, routed: 0, fallback: 0 } } }));
    ws.send(JSON.stringify({ type: 'ack', epoch: 'e1', version: '1' }));
    ws.send(JSON.stringify({ type: 'ack', epoch: 'e1', version: 1 }));
    await until(() => hub.stats(workload, 'shop/alice').ready === 1);
    expect(hub.stats(workload, 'shop/alice')).toEqual({ ready: 1, clients: 0 });
    // A valid report after the invalid ones: the connection stays open and counts.
    ws.send(JSON.stringify({ type: 'report', pod: 'checkout-1', intercepts: { 'shop/alice': { clients: 2, routed: 0, fallback: 0 } } }));
    await until(() => hub.stats(workload, 'shop/alice').clients !== 0);
    expect(hub.stats(workload, 'shop/alice')).toEqual({ ready: 1, clients: 2 });
  });

  it('never lets a string count reach the hub', async () => {
    const { hub, url } = await start();
    const ws = await connect(url);
    await until(() => hub.count() === 1);
    ws.send(JSON.stringify({ type: 'report', pod: 'checkout-1', intercepts: { 'shop/alice': { clients: '5', routed: 0, fallback: 0 } } }));
    ws.send(JSON.stringify({ type: 'ack', epoch: 'e1', version: 1 }));
    await until(() => hub.stats(workload, 'shop/alice').ready === 1);
    expect(hub.stats(workload, 'shop/alice')).toEqual({ ready: 1, clients: 0 });
  });

  it('serves wss with the certificate it is handed, verifiable with the CA', async () => {
    const now = new Date();
    const ca = buildCertificateAuthority({ commonName: 'detour-ca', now });
    const { hub, url } = await start(buildLeafCertificate({ ca, commonName: 'detour-operator', ipAddresses: ['127.0.0.1'], now }));
    expect(url.startsWith('wss://')).toBe(true);
    await connect(url, ca.certPem);
    await until(() => hub.count() === 1);
    expect(hub.count()).toBe(1);
  });
});

describe('control protocol negotiation (WebSocket subprotocols)', () => {
  async function startWith(protocols?: { min: number; max: number }): Promise<{ hub: ControlHub; url: string }> {
    const hub = new ControlHub(() => undefined);
    hub.reset('e1');
    hub.startPublishing();
    const server = buildControlServer({
      hub, logger: buildLogger({ name: 't', level: 'silent' }), version: '0.2.0',
      authenticate: async () => ({ namespace: 'shop', pod: 'checkout-1', workload }),
      accepting: () => true,
      ...(protocols ? { protocols } : {}),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }));
    return { hub, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/control` };
  }

  /** Opens with `offer`; resolves with the chosen subprotocol and the first message, or the refusal. */
  async function open(url: string, offer: string[]): Promise<{ protocol: string; first: Record<string, unknown> } | { status: number; body: string }> {
    const ws = new WebSocket(url, offer, { headers: { authorization: 'Bearer t' } });
    cleanups.push(async () => { ws.terminate(); });
    return new Promise((resolve, reject) => {
      ws.once('message', (d) => resolve({ protocol: ws.protocol, first: JSON.parse(d.toString()) as Record<string, unknown> }));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.once('error', reject);
    });
  }

  it('speaks protocol 2 with a sidecar that offers it, and says hello with its version first', async () => {
    const { url } = await startWith();
    expect(await open(url, ['detour-control.v2', 'detour-control.v1'])).toEqual({ protocol: 'detour-control.v2', first: { type: 'hello', version: '0.2.0', protocol: 2 } });
  });

  it('keeps serving a 0.1.x sidecar (no subprotocol): its first message is the table, never a hello it does not know', async () => {
    const { hub, url } = await startWith();
    const r = await open(url, []);
    expect(r).toMatchObject({ protocol: '', first: { type: 'table', table: { epoch: 'e1', workload } } });
    expect(hub.count()).toBe(1);
  });

  it('refuses a sidecar too old for it with 426, naming the pod to restart and how', async () => {
    const { hub, url } = await startWith({ min: 2, max: 3 });
    const r = await open(url, []);
    expect(r).toEqual({ status: 426, body: expect.stringContaining('the sidecar of pod shop/checkout-1 speaks control protocol 1 (Detour 0.1.x)') });
    expect((r as { body: string }).body).toContain('restart the pod (kubectl rollout restart deployment/checkout -n shop)');
    expect(hub.count()).toBe(0);
  });

  it('refuses a sidecar newer than it serves with 426, saying to upgrade the operator', async () => {
    const { url } = await startWith();
    expect(await open(url, ['detour-control.v3'])).toEqual({ status: 426, body: expect.stringContaining('upgrade the operator (helm upgrade)') });
  });
});
