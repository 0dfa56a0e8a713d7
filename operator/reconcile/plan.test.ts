import { describe, expect, it } from '@jest/globals';
import type { Intercept, InterceptPhase, InterceptSpec } from '../../core/api/intercept.js';
import { FINALIZER } from '../../core/constants.js';
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
    ['an RE2 regex that JavaScript RegExp could not compile routes', gathered({ intercept: intercept({ match: { headers: [{ name: 'x', regex: '(?i)alice' }] } }) }), 'Active', 'Routed'],
    ['a regex Go accepts and re2js does not (\\p{Cn})', gathered({ intercept: intercept({ match: { headers: [{ name: 'x', regex: '\\p{Cn}' }] } }) }), 'Failed', 'InvalidRegex'],
    ['a global Mirror without the opt-in', gathered({ intercept: intercept({ mode: 'Mirror', match: undefined }) }), 'Failed', 'BroadMirrorNotAllowed'],
    ['a Mirror on a path prefix alone', gathered({ intercept: intercept({ mode: 'Mirror', match: { pathPrefix: '/api' } }) }), 'Failed', 'BroadMirrorNotAllowed'],
    ['a Mirror whose only header rule is a regex', gathered({ intercept: intercept({ mode: 'Mirror', match: { headers: [{ name: 'x-detour-user', regex: '.+' }] } }) }), 'Failed', 'BroadMirrorNotAllowed'],
    ['a global Mirror with the opt-in annotation', gathered({ intercept: intercept({ mode: 'Mirror', match: undefined }, { annotations: { 'detour.dev/allow-broad-mirror': 'true' } }) }), 'Active', 'Routed'],
    ['an opt-in annotation other than "true" does not count', gathered({ intercept: intercept({ mode: 'Mirror', match: undefined }, { annotations: { 'detour.dev/allow-broad-mirror': 'yes' } }) }), 'Failed', 'BroadMirrorNotAllowed'],
    ['a Mirror with an exact header rule', gathered({ intercept: intercept({ mode: 'Mirror' }) }), 'Active', 'Routed'],
    ['a Mirror with a prefix header rule', gathered({ intercept: intercept({ mode: 'Mirror', match: { headers: [{ name: 'x-detour-user', prefix: 'alice' }] } }) }), 'Active', 'Routed'],
    ['a global Steal needs no opt-in', gathered({ intercept: intercept({ match: undefined }) }), 'Active', 'Routed'],
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

  it('plans a complete route, the token hash in it (the act step adds nothing)', () => {
    expect(planIntercept(gathered(), now).route?.tokenHash).toBe('ab'.repeat(32));
    expect(planIntercept(gathered({ tokenHash: undefined }), now).route).toBeUndefined();
  });

  it('adds the finalizer when it is missing, and only then', () => {
    expect(planIntercept(gathered(), now).addFinalizer).toBe(true);
    expect(planIntercept(gathered({ intercept: intercept({}, { finalizers: [FINALIZER] }) }), now).addFinalizer).toBe(false);
  });

  it('is Expired from the moment of expiry on, and requeues nothing then', () => {
    const plan = planIntercept(gathered({ intercept: intercept({ ttl: '2h' }) }), now); // created 10:00, now 12:00
    expect(plan.phase).toBe('Expired');
    expect(plan.route).toBeUndefined();
    expect(plan.requeueAfterMs).toBeUndefined();
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

describe('planIntercept: a sidecar that idles for the port (issue 18.2)', () => {
  const injected = (name: string, ports: Array<{ name?: string; appPort: number; listenPort: number }>) => ({
    metadata: { name, uid: `uid-${name}`, annotations: { 'detour.dev/injected': JSON.stringify({ version: 1, sidecar: 'detour-sidecar', native: true, workload: 'Deployment/checkout', ports, renamed: [], redirected: [], adminPort: 15020, tunnelPort: 15021, image: 'i' }) } },
    spec: { containers: [{ name: 'app' }], initContainers: [{ name: 'detour-sidecar' }] },
    status: { phase: 'Running' },
  });

  it('says on each pod that its sidecar does not take the numeric port over, and the Intercept says why', () => {
    const plan = planIntercept(gathered({ intercept: intercept({ port: 8080 }), pods: [injected('checkout-1', []), injected('checkout-2', [])] }), now);
    expect(plan.phase).toBe('Failed');
    expect(plan.status.conditions!.find((c) => c.type === 'Routed')).toMatchObject({ status: 'False', reason: 'NumericPortNeedsIptables' });
    expect(plan.podEvents.map((e) => [e.pod.metadata.name, e.event.type, e.event.reason])).toEqual([['checkout-1', 'Warning', 'PortNotTakenOver'], ['checkout-2', 'Warning', 'PortNotTakenOver']]);
    expect(plan.podEvents[0]!.event.message).toContain('detour.dev/iptables');
  });

  it('reports pods injected before the port was taken over, and none once it is', () => {
    const idle = planIntercept(gathered({ pods: [injected('checkout-1', [{ name: 'http', appPort: 8080, listenPort: 15080 }]), injected('checkout-old', [])] }), now);
    expect(idle.status.conditions!.find((c) => c.type === 'SidecarsReady')).toMatchObject({ status: 'False', reason: 'PortNotTakenOver' });
    expect(idle.status.conditions!.find((c) => c.type === 'SidecarsReady')!.message).toContain('checkout-old');
    expect(idle.podEvents.map((e) => e.pod.metadata.name)).toEqual(['checkout-old']);
    const fine = planIntercept(gathered({ pods: [injected('checkout-1', [{ name: 'http', appPort: 8080, listenPort: 15080 }])] }), now);
    expect(fine.podEvents).toEqual([]);
    expect(fine.status.conditions!.find((c) => c.type === 'SidecarsReady')!.status).toBe('True');
  });
});

describe('planIntercept: Services that bypass the sidecar (issue 18.4)', () => {
  const service = (targetPort: number | string) => ({ metadata: { name: 'checkout', namespace: 'shop' }, spec: { selector: { app: 'checkout' }, ports: [{ name: 'web', port: 80, targetPort }] } });
  const labelled = () => { const w = workload(); w.spec.template.metadata!.labels!.app = 'checkout'; return w; };

  it.each<[string, number | string, string, string]>([
    ['a numeric targetPort bypasses the sidecar', 8080, 'False', 'ServiceBypassesSidecar'],
    ['a named targetPort reaches it', 'http', 'True', 'TargetPortNamed'],
  ])('%s', (_n, targetPort, status, reason) => {
    const plan = planIntercept(gathered({ workload: labelled(), services: [service(targetPort)] }), now);
    const c = plan.status.conditions!.find((x) => x.type === 'ServicesReachSidecar')!;
    expect(c).toMatchObject({ status, reason });
    expect(plan.events.some((e) => e.reason === 'ServiceBypassesSidecar' && e.type === 'Warning')).toBe(status === 'False');
    if (status === 'False') expect(c.message).toMatch(/^Service checkout port web \(targetPort: 8080\).*set targetPort: http.*detour.dev\/iptables: "8080"/);
  });

  it('warns once, not on every pass', () => {
    const first = planIntercept(gathered({ workload: labelled(), services: [service(8080)] }), now);
    const second = planIntercept(gathered({ intercept: intercept({}, {}, first.status), workload: labelled(), services: [service(8080)] }), now);
    expect(second.events).toEqual([]);
    expect(second.statusChanged).toBe(false);
  });

  it('says nothing about Services it did not look at', () => {
    expect(planIntercept(gathered(), now).status.conditions!.some((c) => c.type === 'ServicesReachSidecar')).toBe(false);
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

describe('planIntercept: conflict messages and route age', () => {
  it('tells a Reject Steal why an older Mirror blocks it', () => {
    const plan = planIntercept(gathered({ intercept: intercept({ fallback: 'Reject' }), conflictWith: 'shop/m', conflictWithMode: 'Mirror' }), now);
    expect(plan.status.conditions!.find((c) => c.type === 'Routed')!.message).toMatch(/older Mirror intercept shop\/m .*fallback Reject would answer them 503/);
  });
  it('names the older Steal and what to change', () => {
    const plan = planIntercept(gathered({ conflictWith: 'shop/bob', conflictWithMode: 'Steal' }), now);
    expect(plan.status.conditions!.find((c) => c.type === 'Routed')!.message).toMatch(/older Steal intercept shop\/bob can match the same requests .*make spec.match disjoint/);
  });
  it('carries the creation time in the route (the sidecar prefers the older of overlapping routes)', () => {
    expect(planIntercept(gathered(), now).route?.createdAt).toBe('2025-03-01T10:00:00Z');
  });
  it('carries baggage, cookie and query rules to the route, and leaves them out when absent', () => {
    const match = { baggage: [{ key: 'detour-user', exact: 'alice' }], cookies: [{ name: 'c', prefix: 'x' }], query: [{ name: 'q', regex: 'a.*' }] };
    expect(planIntercept(gathered({ intercept: intercept({ match }) }), now).route?.match).toEqual({ headers: [{ name: ':detour-key-rules', exact: 'v1' }], ...match });
    expect(planIntercept(gathered({ intercept: intercept({ match: { headers: [{ name: 'x', exact: 'a' }] } }) }), now).route?.match).toEqual({ headers: [{ name: 'x', exact: 'a' }] });
  });
  it('a baggage regex the sidecar cannot compile fails the intercept', () => {
    const plan = planIntercept(gathered({ intercept: intercept({ match: { baggage: [{ key: 'u', regex: '\\p{Cn}' }] } }) }), now);
    expect(plan.phase).toBe('Failed');
    expect(plan.route).toBeUndefined();
  });
});
