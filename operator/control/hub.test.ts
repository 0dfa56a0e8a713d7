import { describe, expect, it } from '@jest/globals';
import type { TableMessage } from '../../core/control/protocol.js';
import type { Route, WorkloadRef } from '../../core/routing/table.js';
import { buildRoutes, ControlHub, type SidecarConnection } from './hub.js';

const checkout: WorkloadRef = { kind: 'Deployment', namespace: 'shop', name: 'checkout' };
const cart: WorkloadRef = { kind: 'Deployment', namespace: 'shop', name: 'cart' };
const route = (intercept: string): Route => ({ intercept, port: 'http', mode: 'Steal', fallback: 'App', tokenHash: 'h' });

function conn(workload: WorkloadRef): SidecarConnection & { got: TableMessage[] } {
  const got: TableMessage[] = [];
  return { id: 1, pod: 'p', workload, report: {}, got, send: (m) => got.push(m), close: () => undefined };
}

describe('ControlHub', () => {
  it('publishes nothing before the first pass, then the full table, then each change with a higher version', () => {
    const hub = new ControlHub(() => undefined);
    hub.reset('e1');
    const c = conn(checkout);
    hub.add(c);
    hub.setRoute('shop/a', checkout, route('shop/a'));
    expect(c.got).toEqual([]);
    hub.startPublishing();
    expect(c.got.map((m) => m.table.routes.map((r) => r.intercept))).toEqual([['shop/a']]);
    hub.setRoute('shop/a', checkout, route('shop/a')); // unchanged: nothing sent
    hub.setRoute('shop/b', checkout, route('shop/b'));
    hub.removeRoute('shop/a');
    expect(c.got.map((m) => [m.table.version, m.table.routes.map((r) => r.intercept)])).toEqual([[1, ['shop/a']], [2, ['shop/a', 'shop/b']], [3, ['shop/b']]]);
  });

  it('moves a route when its intercept changes workload', () => {
    const hub = new ControlHub(() => undefined);
    hub.reset('e1');
    hub.startPublishing();
    hub.setRoute('shop/a', checkout, route('shop/a'));
    hub.setRoute('shop/a', cart, route('shop/a'));
    expect(hub.table(checkout).routes).toEqual([]);
    expect(hub.table(cart).routes.map((r) => r.intercept)).toEqual(['shop/a']);
  });

  it('counts sidecars that acknowledged a table of this epoch, and sums reported clients', () => {
    const hub = new ControlHub(() => undefined);
    hub.reset('e2');
    const a = conn(checkout);
    const b = conn(checkout);
    hub.add(a);
    hub.add(b);
    hub.ack(a, 'e2', 1);
    hub.ack(b, 'e1', 7); // a table from the previous leader
    hub.report(a, { 'shop/x': { clients: 1, routed: 0, fallback: 0 } });
    hub.report(b, { 'shop/x': { clients: 2, routed: 0, fallback: 0 } });
    expect(hub.stats(checkout, 'shop/x')).toEqual({ ready: 1, clients: 3 });
    hub.remove(a);
    expect(hub.stats(checkout, 'shop/x')).toEqual({ ready: 0, clients: 2 });
  });

  it('re-queues the workload only when sidecar readiness or clients change, not on every ack or connect', () => {
    const changes: string[] = [];
    const hub = new ControlHub((w) => changes.push(w.name));
    hub.reset('e3');
    hub.startPublishing();
    const a = conn(checkout);
    hub.add(a); // not acknowledged yet: stats unchanged
    expect(changes).toEqual([]);
    hub.ack(a, 'e3', 1); // first ack of this epoch: ready 0 → 1
    hub.ack(a, 'e3', 2); // later acks: still ready
    hub.ack(a, 'e3', 3);
    expect(changes).toEqual(['checkout']);
    hub.ack(a, 'e2', 9); // an old epoch's table: no longer counted
    expect(changes).toEqual(['checkout', 'checkout']);
    hub.report(a, { 'shop/x': { clients: 1, routed: 0, fallback: 0 } });
    hub.report(a, { 'shop/x': { clients: 1, routed: 5, fallback: 0 } }); // same clients
    expect(changes).toEqual(['checkout', 'checkout', 'checkout']);
  });

  it('sends a new version only when a route really changed, whatever order its fields were built in', () => {
    const hub = new ControlHub(() => undefined);
    hub.reset('e4');
    const c = conn(checkout);
    hub.add(c);
    hub.startPublishing();
    const r: Route = { intercept: 'shop/a', port: 'http', mode: 'Steal', fallback: 'App', tokenHash: 'h', match: { headers: [{ name: 'x', exact: '1' }], pathPrefix: '/p' } };
    hub.setRoute('shop/a', checkout, r);
    hub.setRoute('shop/a', checkout, { tokenHash: 'h', fallback: 'App', match: { pathPrefix: '/p', headers: [{ exact: '1', name: 'x' }] }, mode: 'Steal', port: 'http', intercept: 'shop/a' });
    hub.setRoute('shop/a', checkout, { ...r, tokenHash: 'h2' });
    hub.setRoute('shop/gone', checkout, undefined); // never routed: nothing to withdraw
    hub.setRoute('shop/a', checkout, undefined);
    hub.setRoute('shop/a', checkout, undefined);
    expect(c.got.map((m) => [m.table.version, m.table.routes.map((x) => x.tokenHash)])).toEqual([[0, []], [1, ['h']], [2, ['h2']], [3, []]]);
  });

  it('orders a table oldest first, then by key (the sidecar\'s precedence), whatever the arrival order', () => {
    const at = (intercept: string, createdAt?: string): Route => ({ ...route(intercept), ...(createdAt ? { createdAt } : {}) });
    const order = buildRoutes([at('shop/z'), at('shop/b', '2025-02-01T00:00:00Z'), at('shop/c', '2025-01-01T00:00:00Z'), at('shop/a', '2025-02-01T00:00:00Z')]).map((r) => r.intercept);
    expect(order).toEqual(['shop/c', 'shop/a', 'shop/b', 'shop/z']);
  });
});
