import { describe, expect, it } from '@jest/globals';
import type { ClientHttp2Session } from 'node:http2';
import type { Route, RoutingTable } from '../core/routing/table.js';
import { Router } from './router.js';
import { TunnelRegistry, type TunnelPeer } from './tunnel-registry.js';

const workload = { kind: 'Deployment' as const, namespace: 'shop', name: 'checkout' };
const ports = [{ name: 'http', appPort: 8080, listenPort: 15001 }, { name: 'grpc', appPort: 9090, listenPort: 15002 }];

function route(intercept: string, extra: Partial<Route> = {}): Route {
  return { intercept, port: 'http', mode: 'Steal', fallback: 'App', tokenHash: 'ab'.repeat(32), match: { headers: [{ name: 'x-user', exact: 'alice' }] }, ...extra };
}

function table(version: number, routes: Route[]): RoutingTable {
  return { version, epoch: 'e', workload, routes };
}

function peer(intercept: string): TunnelPeer {
  const session = { closed: false, destroyed: false } as unknown as ClientHttp2Session;
  return { id: 1, intercepts: new Set([intercept]), tokenHash: 'ab'.repeat(32), session, mode: 'v2', remoteAddress: '', connectedAt: 0, close: () => undefined, retire: () => true };
}

describe('Router.decide', () => {
  it('sends everything to the app before a table arrives, without reading a header', () => {
    const router = new Router({ ports, registry: new TunnelRegistry(), workload, now: () => 0 });
    const headers = new Proxy({}, { get: () => { throw new Error('header read on the no-route path'); } });
    expect(router.decide(8080, '/', headers).kind).toBe('app');
  });

  it('decides per port and per connected developer', () => {
    const registry = new TunnelRegistry();
    const router = new Router({ ports, registry, workload, now: () => 0 });
    expect(router.setTable(table(1, [route('shop/alice'), route('shop/bob', { fallback: 'Reject', match: { headers: [{ name: 'x-user', exact: 'bob' }] } })]))).toBe(true);
    expect(router.decide(8080, '/', { 'x-user': 'carol' }).kind).toBe('app');
    expect(router.decide(9090, '/', { 'x-user': 'alice' }).kind).toBe('app'); // the route targets port http only
    expect(router.decide(8080, '/', { 'x-user': 'alice' }).kind).toBe('fallback');
    const reject = router.decide(8080, '/', { 'x-user': 'bob' });
    expect(reject.kind === 'reject' && reject.detail).toMatch(/shop\/bob has no developer connected/);
    expect(reject.kind === 'reject' && reject.reason).toBe('service unavailable');
    registry.add(peer('shop/alice'));
    expect(router.decide(8080, '/', { 'x-user': 'alice' }).kind).toBe('developer');
    expect(router.setTable(table(1, []))).toBe(false); // same version of the same epoch: stale
    expect(router.decide(8080, '/', { 'x-user': 'alice' }).kind).toBe('developer');
  });

  it("refuses a table from an older leader's term, whatever its version (issue 12.4)", () => {
    const router = new Router({ ports, registry: new TunnelRegistry(), workload, now: () => 0 });
    expect(router.setTable({ version: 1, epoch: '5.aaaa', workload, routes: [route('shop/alice')] })).toBe(true);
    expect(router.setTable({ version: 99, epoch: '4.bbbb', workload, routes: [] })).toBe(false);
    expect(router.table.epoch).toBe('5.aaaa');
    expect(router.decide(8080, '/', { 'x-user': 'alice' }).kind).toBe('fallback');
    expect(router.setTable({ version: 1, epoch: '6.cccc', workload, routes: [] })).toBe(true);
  });
});
