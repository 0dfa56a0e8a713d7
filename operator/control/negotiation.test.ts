// The sidecar's control client (sidecar/control-client.ts) against the operator's control server,
// both real, over real sockets: which protocol they agree on across the releases of the skew
// policy, and that a table flows and is acknowledged on each. An operator of 0.1.x is played by a
// plain `ws` server, which is what it was: it ignores the subprotocol offer.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { buildLogger } from '../../core/logging.js';
import type { RoutingTable, WorkloadRef } from '../../core/routing/table.js';
import { buildControlClient } from '../../sidecar/control-client.js';
import { ControlHub } from './hub.js';
import { buildControlServer } from './server.js';

const workload: WorkloadRef = { kind: 'Deployment', namespace: 'shop', name: 'checkout' };
const logger = buildLogger({ name: 't', level: 'silent' });
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });
const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
};

async function startOperator(protocols?: { min: number; max: number }) {
  const hub = new ControlHub(() => undefined);
  hub.reset('e1');
  hub.startPublishing();
  const server = buildControlServer({ hub, logger, version: '0.2.0', authenticate: async () => ({ namespace: 'shop', pod: 'checkout-1', workload }), accepting: () => true, ...(protocols ? { protocols } : {}) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }));
  return { hub, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/control` };
}

function startSidecar(url: string, protocols?: { min: number; max: number }, version = '0.2.0') {
  const tables: RoutingTable[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const log = buildLogger({ name: 't', level: 'info', destination: { write: (l: string) => { lines.push(JSON.parse(l) as Record<string, unknown>); } } });
  const client = buildControlClient({
    url, readToken: async () => 't', logger: log, version,
    onTable: (t) => { tables.push(t); return t; },
    report: () => ({ type: 'report', pod: 'checkout-1', intercepts: {} }),
    initialDelayMs: 20, maxDelayMs: 50,
    ...(protocols ? { protocols } : {}),
  });
  client.start();
  cleanups.push(() => client.stop());
  return { client, tables, lines };
}

describe('control protocol across releases', () => {
  it('0.2 sidecar ↔ 0.2 operator: protocol 2, the operator learns the sidecar build from its hello', async () => {
    const { hub, url } = await startOperator();
    const s = startSidecar(url);
    await until('the table ack', () => hub.stats(workload, 'shop/x').ready === 1);
    await until('the hello', () => hub.sidecars(workload)[0]?.build !== undefined);
    expect(hub.sidecars(workload)).toEqual([{ pod: 'checkout-1', protocol: 2, build: '0.2.0' }]);
    expect(s.lines.find((l) => l.msg === 'The operator said hello')).toMatchObject({ operator: '0.2.0', protocol: 2 });
  });

  it.each<[string, ConstructorParameters<typeof WebSocketServer>[0]]>([
    ['as 0.1.0 is (ws echoes the first offered subprotocol)', {}],
    ['one that answers no subprotocol', { handleProtocols: () => false }],
  ])('0.2 sidecar ↔ 0.1 operator (after a helm rollback), %s: protocol 1, no hello it would refuse, tables acknowledged', async (_, options) => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    cleanups.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }));
    const received: Array<Record<string, unknown>> = [];
    wss.on('connection', (ws) => {
      ws.on('message', (d) => received.push(JSON.parse(d.toString()) as Record<string, unknown>));
      ws.send(JSON.stringify({ type: 'table', table: { epoch: 'old', version: 4, workload, routes: [] } }));
    });
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/control`;
    const s = startSidecar(url);
    await until('the ack', () => received.some((m) => m.type === 'ack'));
    expect(received.find((m) => m.type === 'ack')).toEqual({ type: 'ack', epoch: 'old', version: 4 });
    expect(received.map((m) => m.type).filter((t) => t !== 'report' && t !== 'ack')).toEqual([]);
    expect(s.client.connected).toBe(true);
    expect(s.lines.some((l) => l.msg === 'Control channel failed')).toBe(false);
  });

  it('a sidecar older than the operator serves is refused and logs what to restart, then backs off', async () => {
    const { hub, url } = await startOperator({ min: 2, max: 3 });
    const s = startSidecar(url, { min: 1, max: 1 }, '0.1.9');
    await until('the refusal', () => s.lines.some((l) => l.msg === 'The operator refused the control channel'));
    expect(s.lines.find((l) => l.msg === 'The operator refused the control channel')).toMatchObject({
      status: 426, reason: expect.stringContaining('restart the pod (kubectl rollout restart deployment/checkout -n shop) so it gets the current sidecar'),
    });
    expect(hub.count()).toBe(0);
    expect(s.client.connected).toBe(false);
  });

  it('a sidecar newer than the operator serves is refused and logs: upgrade the operator', async () => {
    const { url } = await startOperator({ min: 1, max: 2 });
    const s = startSidecar(url, { min: 3, max: 4 }, '0.4.0');
    await until('the refusal', () => s.lines.some((l) => l.msg === 'The operator refused the control channel'));
    expect(s.lines.find((l) => l.msg === 'The operator refused the control channel')).toMatchObject({ status: 426, reason: expect.stringContaining('upgrade the operator') });
  });
});
