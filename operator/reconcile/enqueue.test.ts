import { describe, expect, it } from '@jest/globals';
import type { Intercept, InterceptSpec } from '../../core/api/intercept.js';
import { interceptWorkloadKey, planInterceptEnqueue } from './enqueue.js';

function icpt(name: string, spec: Partial<InterceptSpec> = {}, meta: Partial<Intercept['metadata']> = {}, phase?: string): Intercept {
  return {
    apiVersion: 'detour.dev/v1alpha1',
    kind: 'Intercept',
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, creationTimestamp: 't1', resourceVersion: '1', ...meta },
    spec: { workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', mode: 'Steal', ...spec },
    ...(phase ? { status: { phase } } : {}),
  } as Intercept;
}

const a = icpt('a');
const world: Intercept[] = [
  a,
  icpt('b'),
  icpt('grpc', { port: 'grpc' }),
  icpt('mirror', { mode: 'Mirror' }),
  icpt('cart', { workload: { kind: 'Deployment', name: 'cart' } }),
  icpt('sts', { workload: { kind: 'StatefulSet', name: 'checkout' } }),
];
const siblingsOf = (k: string) => world.filter((i) => interceptWorkloadKey(i) === k);

describe('planInterceptEnqueue', () => {
  it.each<[string, Intercept | undefined, Intercept | undefined, string[]]>([
    ['an add re-queues the siblings on the same workload and port only (Mirror ones too)', undefined, a, ['shop/a', 'shop/b', 'shop/mirror']],
    ['a delete does the same', a, undefined, ['shop/a', 'shop/b', 'shop/mirror']],
    ['a status-only update (our own write echoed) re-queues only itself', a, icpt('a', {}, { resourceVersion: '2' }, 'Active'), ['shop/a']],
    ['a resync (same object) re-queues only itself', a, a, ['shop/a']],
    ['a spec change re-queues the siblings', a, icpt('a', { match: { headers: [{ name: 'x', exact: '1' }] } }), ['shop/a', 'shop/b', 'shop/mirror']],
    ['deletion starting re-queues the siblings', a, icpt('a', {}, { deletionTimestamp: 't9' }), ['shop/a', 'shop/b', 'shop/mirror']],
    ['expiry re-queues the siblings (they may now win)', a, icpt('a', {}, {}, 'Expired'), ['shop/a', 'shop/b', 'shop/mirror']],
    ['the broad-Mirror opt-in re-queues the siblings (a Reject Steal may now yield to it)', icpt('mirror', { mode: 'Mirror' }), icpt('mirror', { mode: 'Mirror' }, { annotations: { 'detour.dev/allow-broad-mirror': 'true' } }), ['shop/a', 'shop/b', 'shop/mirror']],
    ['a port change re-queues the siblings of both ports', a, icpt('a', { port: 'grpc' }), ['shop/a', 'shop/b', 'shop/grpc', 'shop/mirror']],
    ['a workload change re-queues the siblings of both workloads', a, icpt('a', { workload: { kind: 'Deployment', name: 'cart' } }), ['shop/a', 'shop/b', 'shop/cart', 'shop/mirror']],
    ['a Mirror intercept takes part (an older Mirror blocks a newer Reject Steal)', undefined, icpt('mirror', { mode: 'Mirror' }), ['shop/a', 'shop/b', 'shop/mirror']],
    ['nothing in, nothing out', undefined, undefined, []],
  ])('%s', (_name, old, cur, want) => {
    expect(planInterceptEnqueue(old, cur, siblingsOf).sort()).toEqual(want);
  });
});
