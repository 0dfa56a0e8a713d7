import { describe, expect, it } from '@jest/globals';
import type { OperatorToSidecar } from '../../core/control/protocol.js';
import type { Route, WorkloadRef } from '../../core/routing/table.js';
import { ControlHub, type SidecarConnection } from './hub.js';

const checkout: WorkloadRef = { kind: 'Deployment', namespace: 'shop', name: 'checkout' };
const cart: WorkloadRef = { kind: 'Deployment', namespace: 'shop', name: 'cart' };
const route = (intercept: string): Route => ({ intercept, port: 'http', mode: 'Steal', fallback: 'App', tokenHash: 'h' });

function conn(workload: WorkloadRef): SidecarConnection & { got: OperatorToSidecar[] } {
  const got: OperatorToSidecar[] = [];
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
});
