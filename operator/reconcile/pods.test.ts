import { describe, expect, it } from '@jest/globals';
import { INJECTED_ANNOTATION } from '../../core/constants.js';
import type { WorkloadRef } from '../../core/workload-ref.js';
import { planPodEnqueue } from './enqueue.js';
import { podsOf, SELECTOR_INDEX, selectorIndexers, selectorIndexValues, slimPod } from './pods.js';
import type { Pod, Workload } from './workload.js';

const workload = (matchLabels?: Record<string, string>): Workload => ({ kind: 'Deployment', metadata: { name: 'checkout', namespace: 'shop' }, spec: { ...(matchLabels ? { selector: { matchLabels } } : {}), template: { spec: { containers: [] } } } });
const pod = (name: string, labels: Record<string, string>, over: Partial<Pod['metadata']> = {}, phase = 'Running'): Pod => ({ metadata: { name, namespace: 'shop', uid: `u-${name}`, labels, ...over }, spec: { containers: [{ name: 'app' }] }, status: { phase } });

describe('slimPod', () => {
  it('keeps what sidecar readiness reads and drops the rest', () => {
    const full = {
      metadata: { name: 'p', namespace: 'shop', uid: 'u', resourceVersion: '7', labels: { app: 'a' }, annotations: { [INJECTED_ANNOTATION]: '{"v":1}', 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(1000) }, managedFields: [{}] },
      spec: { containers: [{ name: 'app', image: 'app:1', env: [{ name: 'SECRET', value: 's' }], ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }], volumes: [{}] },
      status: { phase: 'Running', podIP: '10.0.0.1', conditions: [{}] },
    } as unknown as Pod;
    expect(slimPod(full)).toEqual({
      metadata: { name: 'p', namespace: 'shop', uid: 'u', resourceVersion: '7', labels: { app: 'a' }, annotations: { [INJECTED_ANNOTATION]: '{"v":1}' } },
      spec: { containers: [{ name: 'app' }] },
      status: { phase: 'Running' },
    });
  });
});

describe('podsOf', () => {
  it.each<[string, Workload, string[]]>([
    ['the pods its matchLabels select', workload({ app: 'checkout' }), ['a']],
    ['every label must match', workload({ app: 'checkout', tier: 'web' }), []],
    ['no matchLabels: none (as before: no selector, no pods)', workload(), []],
  ])('%s', (_n, w, want) => {
    expect(podsOf(w, [pod('a', { app: 'checkout' }), pod('b', { app: 'cart' })]).map((p) => p.metadata.name)).toEqual(want);
  });
});

describe('planPodEnqueue', () => {
  const targets: Record<string, Workload> = { checkout: workload({ app: 'checkout' }), cart: workload({ app: 'cart' }), wide: workload({ tier: 'web' }) };
  const intercepts: Record<string, string[]> = { checkout: ['shop/alice'], cart: ['shop/bob'], wide: [] };
  // What the selector index answers: every workload whose matchLabels share a pair with the pod.
  const candidates = (p: Pod): Array<[WorkloadRef, Workload]> => Object.entries(targets)
    .filter(([, w]) => Object.entries(w.spec.selector!.matchLabels!).some(([k, v]) => p.metadata.labels?.[k] === v))
    .map(([name, w]) => [{ kind: 'Deployment', namespace: 'shop', name }, w]);
  const interceptsOf = (w: WorkloadRef) => intercepts[w.name] ?? [];
  const p = pod('p', { app: 'checkout' });
  it.each<[string, Pod | undefined, Pod | undefined, string[]]>([
    ['an added pod re-queues the Intercepts whose workload selects it', undefined, p, ['shop/alice']],
    ['a deleted pod too', p, undefined, ['shop/alice']],
    ['a status-only change re-queues nobody', p, { ...p, metadata: { ...p.metadata, resourceVersion: '9' } }, []],
    ['a pod that moves between workloads re-queues both', p, pod('p', { app: 'cart' }), ['shop/alice', 'shop/bob']],
    ['a pod that is being deleted', p, pod('p', { app: 'checkout' }, { deletionTimestamp: '2026-01-01T00:00:00Z' }), ['shop/alice']],
    ['a pod that finished', p, pod('p', { app: 'checkout' }, {}, 'Succeeded'), ['shop/alice']],
    ['a candidate whose whole selector does not match is left out', undefined, pod('q', { app: 'cart', tier: 'db' }), ['shop/bob']],
  ])('%s', (_n, old, cur, want) => {
    expect(planPodEnqueue(old, cur, candidates, interceptsOf)).toEqual(want);
  });
});

describe('selector index', () => {
  it('finds a workload under each of its matchLabels pairs, and a pod under each of its labels', () => {
    expect(selectorIndexers[SELECTOR_INDEX](workload({ app: 'checkout', tier: 'web' }))).toEqual(['shop/app=checkout', 'shop/tier=web']);
    expect(selectorIndexValues(pod('p', { app: 'checkout' }))).toEqual(['shop/app=checkout']);
  });
});
