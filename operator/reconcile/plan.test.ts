import { describe, expect, it } from '@jest/globals';
import type { Intercept, InterceptPhase, InterceptSpec } from '../../core/api/intercept.js';
import { planIntercept, type Gathered } from './plan.js';
import type { Workload } from './workload.js';

const now = new Date('2025-03-01T12:00:00Z');

function intercept(spec: Partial<InterceptSpec> = {}, meta: Partial<Intercept['metadata']> = {}, status?: Intercept['status']): Intercept {
  return {
    apiVersion: 'detour.dev/v1alpha1',
    kind: 'Intercept',
    metadata: { name: 'alice-checkout', namespace: 'shop', generation: 3, creationTimestamp: '2025-03-01T10:00:00Z', ...meta },
    spec: { workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', mode: 'Steal', fallback: 'App', match: { headers: [{ name: 'x-detour-user', exact: 'alice' }] }, ...spec },
    ...(status ? { status } : {}),
  };
}

function workload(opts: { optedIn?: boolean; iptables?: boolean; replicas?: number } = {}): Workload {
  return {
    kind: 'Deployment',
    metadata: { name: 'checkout', namespace: 'shop' },
    spec: {
      replicas: opts.replicas ?? 2,
      template: {
        metadata: { labels: opts.optedIn === false ? {} : { 'detour.dev/inject': 'true' }, annotations: opts.iptables ? { 'detour.dev/iptables': 'true' } : {} },
        spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] },
      },
    },
  };
}

function gathered(over: Partial<Gathered> = {}): Gathered {
  return { intercept: intercept(), workload: workload(), pods: [], tokenHash: 'ab'.repeat(32), sidecars: { ready: 2, clients: 0 }, ...over };
}

describe('planIntercept: phase and reason', () => {
  it.each<[string, Gathered, InterceptPhase, string]>([
    ['routed and served by sidecars', gathered(), 'Active', 'Routed'],
    ['routed, no sidecar yet', gathered({ sidecars: { ready: 0, clients: 0 } }), 'Pending', 'Routed'],
    ['the workload does not exist yet', gathered({ workload: undefined }), 'Waiting', 'WorkloadNotFound'],
    ['no such port', gathered({ intercept: intercept({ port: 'grpc' }) }), 'Failed', 'PortNotFound'],
    ['numeric port without the iptables opt-in', gathered({ intercept: intercept({ port: 8080 }) }), 'Failed', 'NumericPortNeedsIptables'],
    ['numeric port with the iptables opt-in', gathered({ intercept: intercept({ port: 8080 }), workload: workload({ iptables: true }) }), 'Active', 'Routed'],
    ['a regex JavaScript cannot compile', gathered({ intercept: intercept({ match: { headers: [{ name: 'x', regex: '(?i)alice' }] } }) }), 'Failed', 'InvalidRegex'],
    ['an older intercept holds the same match', gathered({ conflictWith: 'shop/bob' }), 'Conflict', 'Conflict'],
    ['ttl ran out', gathered({ intercept: intercept({ ttl: '1h' }) }), 'Expired', 'Expired'],
    ['ttl not yet over', gathered({ intercept: intercept({ ttl: '3h' }) }), 'Active', 'Routed'],
    ['expiry wins over a missing workload', gathered({ intercept: intercept({ ttl: '1h' }), workload: undefined }), 'Expired', 'Expired'],
    ['Outbound: routed (for its token) whatever port it names', gathered({ intercept: intercept({ mode: 'Outbound', port: 'none', match: undefined }) }), 'Active', 'Routed'],
    ['token Secret owned by someone else', gathered({ tokenSecretForeign: true, tokenHash: undefined }), 'Failed', 'TokenSecretTaken'],
  ])('%s → %s', (_name, g, phase, reason) => {
    const plan = planIntercept(g, now);
    expect(plan.phase).toBe(phase);
    expect(plan.status.conditions!.find((c) => c.type === 'Routed')!.reason).toBe(reason);
    expect(plan.route !== undefined).toBe(reason === 'Routed');
  });
});

describe('planIntercept: effects', () => {
  it('opts the workload in when its pod template lacks the label, and says so', () => {
    const plan = planIntercept(gathered({ workload: workload({ optedIn: false }), sidecars: { ready: 0, clients: 0 } }), now);
    expect(plan.optIn).toBe(true);
    expect(plan.events.map((e) => e.reason)).toContain('OptedIn');
    expect(plan.status.conditions!.find((c) => c.type === 'SidecarsReady')).toMatchObject({ status: 'False', reason: 'OptingIn' });
  });

  it('does not opt in a workload it will not route', () => {
    expect(planIntercept(gathered({ workload: workload({ optedIn: false }), conflictWith: 'shop/bob' }), now).optIn).toBe(false);
  });

  it('mints a token when there is none, and routes once it exists', () => {
    const plan = planIntercept(gathered({ tokenHash: undefined }), now);
    expect(plan.mintToken).toBe(true);
    expect(plan.route?.tokenHash).toBeUndefined();
    expect(planIntercept(gathered(), now).route?.tokenHash).toBe('ab'.repeat(32));
  });

  it('requeues at the moment of expiry and publishes expiresAt', () => {
    const plan = planIntercept(gathered({ intercept: intercept({ ttl: '2h30m' }) }), now);
    expect(plan.status.expiresAt).toBe('2025-03-01T12:30:00Z');
    expect(plan.requeueAfterMs).toBe(30 * 60_000);
    expect(plan.route?.expiresAt).toBe('2025-03-01T12:30:00Z');
  });

  it('names the pods that lack a sidecar', () => {
    const pods = [{ metadata: { name: 'checkout-1' }, spec: { containers: [{ name: 'app' }] }, status: { phase: 'Running' } }];
    const c = planIntercept(gathered({ pods }), now).status.conditions!.find((x) => x.type === 'SidecarsReady')!;
    expect(c.status).toBe('False');
    expect(c.message).toContain('checkout-1');
  });

  it('reports sidecars and connected developers', () => {
    const s = planIntercept(gathered({ sidecars: { ready: 2, clients: 3 } }), now).status;
    expect(s.sidecars).toEqual({ ready: 2, desired: 2 });
    expect(s.clients).toBe(3);
    expect(s.conditions!.find((c) => c.type === 'ClientConnected')!.status).toBe('True');
    expect(s.conditions!.find((c) => c.type === 'SidecarsReady')!.status).toBe('True');
  });
});

describe('planIntercept: status is written only when it changed', () => {
  it('a second pass over its own status changes nothing and emits no event', () => {
    const first = planIntercept(gathered(), now);
    expect(first.statusChanged).toBe(true);
    expect(first.events.map((e) => e.reason)).toEqual(['Active']);
    const later = new Date(now.getTime() + 60_000);
    const second = planIntercept(gathered({ intercept: intercept({}, {}, first.status) }), later);
    expect(second.statusChanged).toBe(false);
    expect(second.events).toEqual([]);
  });

  it('keeps lastTransitionTime of conditions whose status did not change', () => {
    const first = planIntercept(gathered(), now);
    const later = new Date(now.getTime() + 60_000);
    const second = planIntercept(gathered({ intercept: intercept({}, {}, first.status), sidecars: { ready: 2, clients: 1 } }), later);
    const t = (type: string, s: typeof first) => s.status.conditions!.find((c) => c.type === type)!.lastTransitionTime;
    expect(t('Routed', second)).toBe(t('Routed', first));
    expect(t('ClientConnected', second)).not.toBe(t('ClientConnected', first));
  });
});
