import { describe, expect, it } from '@jest/globals';
import { INJECTED_ANNOTATION } from '../../core/constants.js';
import type { Intercept } from '../../core/api/intercept.js';
import { planPodEnqueue } from './enqueue.js';
import { podsOf, slimPod } from './pods.js';
import type { Pod, Workload } from './workload.js';

const workload = (matchLabels?: Record<string, string>): Workload => ({ kind: 'Deployment', metadata: { name: 'checkout', namespace: 'shop' }, spec: { ...(matchLabels ? { selector: { matchLabels } } : {}), template: { spec: { containers: [] } } } });
const pod = (name: string, labels: Record<string, string>, over: Partial<Pod['metadata']> = {}, phase = 'Running'): Pod => ({ metadata: { name, namespace: 'shop', uid: `u-${name}`, labels, ...over }, spec: { containers: [{ name: 'app' }] }, status: { phase } });
const intercept = (name: string, workloadName: string): Intercept => ({ apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept', metadata: { name, namespace: 'shop' }, spec: { workload: { kind: 'Deployment', name: workloadName } } });

describe('slimPod', () => {
  it('keeps what sidecar readiness reads and drops the rest', () => {
    const full = {
      metadata: { name: 'p', namespace: 'shop', uid: 'u', resourceVersion: '7', labels: { app: 'a' }, annotations: { [INJECTED_ANNOTATION]: '{"v":1}', 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(1000) }, managedFields: [{}] },
      spec: { containers: [{ name: 'app', image: 'app:1', env: [{ name: 'SECRET', value: 's' }], ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }], volumes: [{}] },
      status: { phase: 'Running', podIP: '10.0.0.1', conditions: [{}] },
    } as unknown as Pod;
    expect(slimPod(full)).toEqual({
      metadata: { name: 'p', namespace: 'shop', uid: 'u', resourceVersion: '7', labels: { app: 'a' }, annotations: { [INJECTED_ANNOTATION]: '{"v":1}' } },
      spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] },
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
  const intercepts = [intercept('alice', 'checkout'), intercept('bob', 'cart')];
  const targets: Record<string, Workload> = { checkout: workload({ app: 'checkout' }), cart: workload({ app: 'cart' }) };
  const targetOf = (i: Intercept) => targets[i.spec.workload.name];
  const p = pod('p', { app: 'checkout' });
  it.each<[string, Pod | undefined, Pod | undefined, string[]]>([
    ['an added pod re-queues the Intercepts whose workload selects it', undefined, p, ['shop/alice']],
    ['a deleted pod too', p, undefined, ['shop/alice']],
    ['a status-only change re-queues nobody', p, { ...p, metadata: { ...p.metadata, resourceVersion: '9' } }, []],
    ['a pod that moves between workloads re-queues both', p, pod('p', { app: 'cart' }), ['shop/alice', 'shop/bob']],
    ['a pod that is being deleted', p, pod('p', { app: 'checkout' }, { deletionTimestamp: '2026-01-01T00:00:00Z' }), ['shop/alice']],
    ['a pod that finished', p, pod('p', { app: 'checkout' }, {}, 'Succeeded'), ['shop/alice']],
  ])('%s', (_n, old, cur, want) => {
    expect(planPodEnqueue(old, cur, intercepts, targetOf)).toEqual(want);
  });
});
