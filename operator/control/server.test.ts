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
