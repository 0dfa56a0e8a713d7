import { describe, expect, it } from '@jest/globals';
import { evaluatePolicies, planDefaultTtl, type PolicyInput } from './evaluate.js';
import { matchGlob } from './glob.js';
import { matchLabelSelector } from './selector.js';
import { formatCreator, readCreator, serviceAccountOf, CREATOR_ANNOTATION } from './creator.js';
import { isEnvWithheld, planDestination } from './destinations.js';
import type { InterceptPolicySpec, PolicyObject } from './types.js';

const alice = { username: 'alice', groups: ['developers', 'system:authenticated'] };
const bob = { username: 'bob', groups: ['system:authenticated'] };

const ns = (name: string, spec: Partial<InterceptPolicySpec>, namespace = 'shop'): PolicyObject =>
  ({ kind: 'InterceptPolicy', metadata: { name, namespace }, spec: { subjects: { groups: ['developers'] }, ...spec } });
const cluster = (name: string, spec: Partial<InterceptPolicySpec>): PolicyObject =>
  ({ kind: 'ClusterInterceptPolicy', metadata: { name }, spec: { subjects: { groups: ['developers'] }, ...spec } });

const personal = { headers: [{ name: 'x-detour-user', exact: 'alice' }] };
const input = (over: Partial<PolicyInput>): PolicyInput => ({
  namespace: 'shop',
  spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: personal, mode: 'Steal' },
  creator: alice,
  workload: { kind: 'Deployment', name: 'checkout', labels: { tier: 'web' } },
  namespaceLabels: { env: 'dev' },
  policies: [],
  ...over,
});

describe('evaluatePolicies', () => {
  const cases: Array<[string, Partial<PolicyInput>, { allowed: boolean; policy?: string; rule?: string; message?: RegExp }]> = [
    ['no policy at all: allowed, as before policies', {}, { allowed: true }],
    ['a policy of another namespace does not select', { policies: [ns('p', { modes: [] }, 'other')] }, { allowed: true }],
    ['a policy on other workload names does not select', { policies: [ns('p', { workloads: { names: ['web-*'] }, modes: [] })] }, { allowed: true }],
    ['name glob selects and allows', { policies: [ns('p', { workloads: { names: ['check*'] } })] }, { allowed: true, policy: 'InterceptPolicy shop/p' }],
    ['label selector that does not match does not select', { policies: [ns('p', { workloads: { selector: { matchLabels: { tier: 'db' } } }, modes: [] })] }, { allowed: true }],
    ['a cluster policy outside its namespaceSelector does not select', { policies: [cluster('c', { namespaceSelector: { matchLabels: { env: 'prod' } }, modes: [] })] }, { allowed: true }],
    ['selected for other subjects only: denied naming the policy', { creator: bob, policies: [ns('p', {})] }, { allowed: false, policy: 'InterceptPolicy shop/p', rule: 'subjects', message: /denied by InterceptPolicy shop\/p \(rule subjects\).*no policy allows bob/ }],
    ['a user subject', { creator: bob, policies: [ns('p', { subjects: { users: ['bob'] } })] }, { allowed: true, policy: 'InterceptPolicy shop/p' }],
    ['a service account subject', { creator: { username: 'system:serviceaccount:gitops:argo', groups: [] }, policies: [ns('p', { subjects: { serviceAccounts: [{ namespace: 'gitops', name: 'argo' }] } })] }, { allowed: true }],
    ['no recorded creator under a policy: denied', { creator: undefined, policies: [ns('p', {})] }, { allowed: false, rule: 'subjects', message: /no recorded creator/ }],
    ['mode not allowed', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: personal, mode: 'Mirror' }, policies: [ns('p', { modes: ['Steal'] })] }, { allowed: false, rule: 'modes', message: /mode Mirror is not allowed \(allowed: Steal\)/ }],
    ['Outbound needs outbound.allowed', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, mode: 'Outbound' }, policies: [ns('p', { modes: ['Outbound'] })] }, { allowed: false, rule: 'outbound.allowed' }],
    ['Outbound allowed', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, mode: 'Outbound' }, policies: [ns('p', { modes: ['Outbound'], outbound: { allowed: true } })] }, { allowed: true }],
    ['global refused by default', { spec: { workload: { kind: 'Deployment', name: 'checkout' } }, policies: [ns('p', {})] }, { allowed: false, rule: 'allowGlobal' }],
    ['global with allowGlobal', { spec: { workload: { kind: 'Deployment', name: 'checkout' } }, policies: [ns('p', { allowGlobal: true })] }, { allowed: true }],
    ['required header missing', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: { pathPrefix: '/api' } }, policies: [ns('p', { requiredHeaders: [{ name: 'X-Detour-User' }] })] }, { allowed: false, rule: 'requiredHeaders[0]', message: /must match header X-Detour-User$/ }],
    ['required header equal to the creator: someone else\'s value', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: { headers: [{ name: 'x-detour-user', exact: 'bob' }] } }, policies: [ns('p', { requiredHeaders: [{ name: 'x-detour-user', valueEqualsCreator: true }] })] }, { allowed: false, rule: 'requiredHeaders[0]', message: /exact value "alice" \(the creator's username\)/ }],
    ['required header equal to the creator: a prefix is not enough', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: { headers: [{ name: 'x-detour-user', prefix: 'alice' }] } }, policies: [ns('p', { requiredHeaders: [{ name: 'x-detour-user', valueEqualsCreator: true }] })] }, { allowed: false, rule: 'requiredHeaders[0]' }],
    ['required header equal to the creator: own value', { policies: [ns('p', { requiredHeaders: [{ name: 'x-detour-user', valueEqualsCreator: true }] })] }, { allowed: true }],
    ['required header regex (anchored)', { policies: [ns('p', { requiredHeaders: [{ name: 'x-detour-user', valueRegex: 'ali' }] })] }, { allowed: false, rule: 'requiredHeaders[0]' }],
    ['required header regex matches', { policies: [ns('p', { requiredHeaders: [{ name: 'x-detour-user', valueRegex: 'a.*' }] })] }, { allowed: true }],
    ['ttl longer than max', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: personal, ttl: '9h' }, policies: [ns('p', { maxTtl: '8h' })] }, { allowed: false, rule: 'maxTtl', message: /ttl 9h is longer than the maximum 8h/ }],
    ['no ttl under a max without default', { policies: [ns('p', { maxTtl: '8h' })] }, { allowed: false, rule: 'maxTtl' }],
    ['no ttl under a max with a default', { policies: [ns('p', { maxTtl: '8h', defaultTtl: '2h' })] }, { allowed: true }],
    ['ttl within max', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: personal, ttl: '90m' }, policies: [ns('p', { maxTtl: '2h' })] }, { allowed: true }],
    ['connectors need allowConnectors', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: personal, connectors: [{ kind: 'User', name: 'bob' }] }, policies: [ns('p', {})] }, { allowed: false, rule: 'allowConnectors' }],
    ['one allowing policy is enough (union)', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: personal, mode: 'Mirror' }, policies: [ns('strict', { modes: ['Steal'] }), cluster('mirrors', { modes: ['Mirror'] })] }, { allowed: true, policy: 'ClusterInterceptPolicy mirrors' }],
    ['all refuse: the first names itself, the rest are counted', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: personal, mode: 'Mirror' }, policies: [cluster('b', { modes: ['Steal'] }), ns('a', { modes: ['Steal'] })] }, { allowed: false, policy: 'InterceptPolicy shop/a', message: /\(and 1 other policy for alice refuse it too\)/ }],
  ];
  it.each(cases)('%s', (_name, over, want) => {
    const v = evaluatePolicies(input(over));
    expect(v.allowed).toBe(want.allowed);
    if (want.policy) expect(v.policy).toBe(want.policy);
    if (!v.allowed) {
      if (want.rule) expect(v.rule).toBe(want.rule);
      if (want.message) expect(v.message).toMatch(want.message);
      expect(v.message).toMatch(/^denied by (Cluster)?InterceptPolicy \S+ \(rule \S+\): /);
    }
  });

  it('planDefaultTtl gives the first applicable default only to an Intercept without ttl', () => {
    expect(planDefaultTtl(input({ policies: [ns('a', { defaultTtl: '1h' }), cluster('b', { defaultTtl: '3h' })] }))).toBe('1h');
    expect(planDefaultTtl(input({ creator: bob, policies: [ns('a', { defaultTtl: '1h' })] }))).toBeUndefined();
    expect(planDefaultTtl(input({ spec: { workload: { kind: 'Deployment', name: 'checkout' }, ttl: '5m' }, policies: [ns('a', { defaultTtl: '1h' })] }))).toBeUndefined();
  });
});

describe('matchGlob', () => {
  it.each([
    ['*', '', true], ['*', 'abc', true], ['web-*', 'web-1', true], ['web-*', 'api', false], ['a?c', 'abc', true], ['a?c', 'ac', false],
    ['*-api', 'orders-api', true], ['*-api', 'orders-api-2', false], ['a*b*c', 'axxbyyc', true], ['a*b*c', 'axxbyy', false], ['checkout', 'checkout', true],
  ])('%s ~ %s = %s', (p, t, want) => expect(matchGlob(p, t)).toBe(want));
});

describe('matchLabelSelector', () => {
  it.each([
    [undefined, {}, true],
    [{}, { a: '1' }, true],
    [{ matchLabels: { a: '1' } }, { a: '1' }, true],
    [{ matchLabels: { a: '1' } }, {}, false],
    [{ matchExpressions: [{ key: 'a', operator: 'In' as const, values: ['1', '2'] }] }, { a: '2' }, true],
    [{ matchExpressions: [{ key: 'a', operator: 'NotIn' as const, values: ['1'] }] }, {}, true],
    [{ matchExpressions: [{ key: 'a', operator: 'Exists' as const }] }, {}, false],
    [{ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' as const }] }, { a: '' }, false],
  ])('%j on %j = %s', (sel, labels, want) => expect(matchLabelSelector(sel, labels)).toBe(want));
});

describe('creator annotation', () => {
  it('round-trips and refuses what admission does not write', () => {
    expect(readCreator({ [CREATOR_ANNOTATION]: formatCreator(alice) })).toEqual(alice);
    expect(readCreator({ [CREATOR_ANNOTATION]: 'alice' })).toBeUndefined();
    expect(readCreator({ [CREATOR_ANNOTATION]: '{"username":"","groups":[]}' })).toBeUndefined();
    expect(readCreator({ [CREATOR_ANNOTATION]: '{"username":"a","groups":[1]}' })).toBeUndefined();
    expect(readCreator(undefined)).toBeUndefined();
    expect(serviceAccountOf('system:serviceaccount:gitops:argo')).toEqual({ namespace: 'gitops', name: 'argo' });
    expect(serviceAccountOf('alice')).toBeUndefined();
  });
});

describe('planDestination and withholding', () => {
  const rules = { allowed: true, allow: [{ host: '*.shop.svc.cluster.local' }, { cidr: '10.96.0.0/16', port: 80 }], block: [{ port: 5432 }, { cidr: '169.254.169.254/32' }] };
  it.each([
    [{ host: 'inventory.shop.svc.cluster.local', port: 8080 }, true, undefined],
    [{ host: 'db.shop.svc.cluster.local', port: 5432 }, false, 'outbound.block[0]'],
    [{ host: '169.254.169.254', port: 80 }, false, 'outbound.block[1]'],
    [{ host: 'inventory', address: '10.96.3.4', port: 80 }, true, undefined],
    [{ host: 'inventory', address: '10.96.3.4', port: 81 }, false, 'outbound.allow'],
    [{ host: 'example.com', port: 443 }, false, 'outbound.allow'],
  ])('%j', (d, allowed, rule) => {
    const v = planDestination(rules, d);
    expect(v.allowed).toBe(allowed);
    if (!v.allowed) expect(v.rule).toBe(rule);
  });
  it('withholds env names by glob', () => {
    expect(isEnvWithheld([{ env: ['*_PASSWORD', 'API_KEY'] }], 'DB_PASSWORD')).toBe(true);
    expect(isEnvWithheld([{ env: ['*_PASSWORD'] }], 'GREETING')).toBe(false);
  });
});
