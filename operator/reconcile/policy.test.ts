import { describe, expect, it } from '@jest/globals';
import type { Intercept } from '../../core/api/intercept.js';
import { CREATOR_ANNOTATION, formatCreator } from '../../core/policy/creator.js';
import type { PolicyObject } from '../../core/policy/types.js';
import { planAccess } from './access.js';
import { planIntercept, type Gathered } from './plan.js';
import { planPolicyVerdict } from './policy.js';
import type { Workload } from './workload.js';

const now = new Date('2025-03-01T12:00:00Z');
const stamp = (username: string) => ({ [CREATOR_ANNOTATION]: formatCreator({ username, groups: ['developers'] }) });

function intercept(annotations: Record<string, string> = stamp('alice'), spec: Partial<Intercept['spec']> = {}, status?: Intercept['status']): Intercept {
  return {
    apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept',
    metadata: { name: 'alice-checkout', namespace: 'shop', uid: 'uid-1', generation: 1, creationTimestamp: '2025-03-01T10:00:00Z', annotations },
    spec: { workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', mode: 'Steal', fallback: 'App', match: { headers: [{ name: 'x-detour-user', exact: 'alice' }] }, ...spec },
    ...(status ? { status } : {}),
  };
}

const workload: Workload = {
  kind: 'Deployment', metadata: { name: 'checkout', namespace: 'shop', labels: { tier: 'web' } },
  spec: { replicas: 1, template: { metadata: { labels: { 'detour.dev/inject': 'true' } }, spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] } } },
};

// As an informer lists them: without kind (planPolicyVerdict knows which list it came from).
const strict = { metadata: { name: 'steal-only', namespace: 'shop' }, spec: { subjects: { groups: ['developers'] }, modes: ['Mirror'] } } as unknown as PolicyObject;
const labelled = { metadata: { name: 'web' }, spec: { subjects: { users: ['alice'] }, workloads: { selector: { matchLabels: { tier: 'web' } } } } } as unknown as PolicyObject;

describe('planPolicyVerdict', () => {
  it.each([
    ['no policies', [], [], true, undefined],
    ['a namespaced policy that refuses the mode', [strict], [], false, 'InterceptPolicy shop/steal-only'],
    ['a cluster policy selecting by the workload labels', [], [labelled], true, 'ClusterInterceptPolicy web'],
  ] as const)('%s', (_n, namespaced, clusterWide, allowed, policy) => {
    const v = planPolicyVerdict(intercept(), { namespaced, clusterWide, workloadLabels: { tier: 'web' } });
    expect(v.allowed).toBe(allowed);
    expect(v.policy).toBe(policy);
  });
});

describe('planIntercept with a policy verdict', () => {
  const g = (over: Partial<Gathered>): Gathered => ({ intercept: intercept(), workload, pods: [], tokenHash: 'ab'.repeat(32), sidecars: { ready: 1, clients: 0 }, ...over });

  it('a denied Intercept is Failed, not routed, reason PolicyDenied naming the policy, with a Warning Event', () => {
    const verdict = planPolicyVerdict(intercept(), { namespaced: [strict], clusterWide: [] });
    const plan = planIntercept(g({ policy: verdict }), now);
    expect(plan.phase).toBe('Failed');
    expect(plan.route).toBeUndefined();
    const routed = plan.status.conditions!.find((c) => c.type === 'Routed')!;
    expect(routed).toMatchObject({ status: 'False', reason: 'PolicyDenied' });
    expect(routed.message).toMatch(/^denied by InterceptPolicy shop\/steal-only \(rule modes\): mode Steal is not allowed.*; matching requests go to the app$/);
    expect(plan.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'PolicyDenied' }));
    // Said once: the next reconcile with the same verdict adds no PolicyDenied Event.
    const again = planIntercept(g({ intercept: intercept(undefined, {}, plan.status), policy: verdict }), now);
    expect(again.events.filter((e) => e.reason === 'PolicyDenied')).toEqual([]);
  });

  it('an allowed Intercept routes and records the policy in status.allowedBy; without policies allowedBy is absent', () => {
    const plan = planIntercept(g({ policy: { allowed: true, policy: 'ClusterInterceptPolicy web' } }), now);
    expect(plan.phase).toBe('Active');
    expect(plan.route).toBeDefined();
    expect(plan.status.allowedBy).toBe('ClusterInterceptPolicy web');
    expect(planIntercept(g({ policy: { allowed: true } }), now).status.allowedBy).toBeUndefined();
  });
});

describe('planAccess', () => {
  it('grants get on the one token Secret to the creator and the connectors, owned by the Intercept', () => {
    const a = planAccess(intercept(stamp('alice'), { connectors: [{ kind: 'User', name: 'bob' }, { kind: 'ServiceAccount', name: 'ci' }, { kind: 'User', name: 'alice' }] }));
    expect(a.role.rules).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: ['alice-checkout-detour-token'], verbs: ['get'] }]);
    expect(a.role.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Intercept', uid: 'uid-1', controller: true })]);
    expect(a.roleBinding!.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'alice-checkout-detour-token' });
    expect(a.roleBinding!.subjects).toEqual([
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' },
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'bob' },
      { kind: 'ServiceAccount', name: 'ci', namespace: 'shop' },
    ]);
  });

  it('a service-account creator is bound as a ServiceAccount; its groups never', () => {
    const a = planAccess(intercept(stamp('system:serviceaccount:gitops:argo')));
    expect(a.roleBinding!.subjects).toEqual([{ kind: 'ServiceAccount', name: 'argo', namespace: 'gitops' }]);
  });

  it('no recorded creator and no connectors: a Role but no binding (nobody but Secret readers gets the token)', () => {
    expect(planAccess(intercept({})).roleBinding).toBeUndefined();
    expect(planAccess(intercept({ [CREATOR_ANNOTATION]: 'forged by hand' })).roleBinding).toBeUndefined();
  });
});
