import { describe, expect, it } from '@jest/globals';
import type { Intercept } from '../core/api/intercept.js';
import { buildIntercept, buildInterceptName, describeMatch, parseTarget, planAdoption } from './spec.js';

describe('parseTarget', () => {
  it.each([
    ['3000', 'http://localhost:3000'],
    ['localhost:3000', 'http://localhost:3000'],
    ['127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://localhost:3000', 'http://localhost:3000'],
    ['http://localhost:3000/', 'http://localhost:3000'],
    ['[::1]:3000', 'http://[::1]:3000'],
  ])('%s → %s', (input, url) => expect(parseTarget(input)).toBe(url));
});

describe('buildInterceptName', () => {
  it.each([
    ['checkout', [{ name: 'x-detour-user', exact: 'alice' }], undefined, 'alice-checkout'],
    ['checkout', [{ name: 'x-detour-user', exact: 'Alice Smith@Example' }], undefined, 'alice-smith-example-checkout'],
    ['checkout', [{ name: 'x-tenant', prefix: 'test-' }], undefined, 'test-checkout'],
    ['checkout', [], 'bob@example.com', 'bob-checkout'],
    ['checkout', [], undefined, 'global-checkout'],
    ['a'.repeat(70), [{ name: 'u', exact: 'alice' }], undefined, `alice-${'a'.repeat(57)}`],
  ])('%s %j %s → %s', (workload, headers, owner, name) => {
    const n = buildInterceptName(workload, headers, owner);
    expect(n).toBe(name);
    expect(n.length).toBeLessThanOrEqual(63);
  });
});

const spec = (over: Partial<Intercept['spec']> = {}): Intercept['spec'] => ({
  workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', mode: 'Steal', match: { headers: [{ name: 'x-detour-user', exact: 'alice' }] }, ...over,
});
const existing = (s: Intercept['spec'], deleting = false): Intercept => ({
  apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept', metadata: { name: 'alice-checkout', namespace: 'shop', ...(deleting ? { deletionTimestamp: 'now' } : {}) }, spec: s,
});

describe('planAdoption', () => {
  it.each([
    ['the same spec', spec(), spec(), undefined],
    ['only owner and ttl differ', spec({ owner: 'kubectl-user', ttl: '1h', fallback: 'App' }), spec({ owner: 'alice' }), undefined],
    ['header order and name case differ', spec({ match: { headers: [{ name: 'B', exact: '2' }, { name: 'a', exact: '1' }] } }), spec({ match: { headers: [{ name: 'a', exact: '1' }, { name: 'b', exact: '2' }] } }), undefined],
    ['another workload', spec({ workload: { kind: 'Deployment', name: 'cart' } }), spec(), /workload Deployment\/cart/],
    ['another header value', spec({ match: { headers: [{ name: 'x-detour-user', exact: 'bob' }] } }), spec(), /match x-detour-user=bob/],
    ['a global intercept', spec({ match: undefined }), spec(), /match all requests/],
    ['another mode', spec({ mode: 'Mirror' }), spec(), /mode Mirror/],
    ['another port', spec({ port: 8080 }), spec(), /port 8080/],
  ])('%s', (_n, have, want, result) => {
    const r = planAdoption(existing(have), want);
    if (result === undefined) expect(r).toBeUndefined();
    else expect(r).toMatch(result);
  });

  it('refuses an Intercept that is being deleted', () => expect(planAdoption(existing(spec(), true), spec())).toMatch(/being deleted/));
});

describe('buildIntercept', () => {
  it('builds the spec the CRD expects, omitting match for a global intercept', () => {
    expect(buildIntercept({ name: 'n', namespace: 'shop', workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', headers: [], mode: 'Steal' }).spec)
      .toEqual({ workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', mode: 'Steal' });
    expect(buildIntercept({ name: 'n', namespace: 'shop', workload: { kind: 'StatefulSet', name: 'db' }, port: 5432, headers: [{ name: 'x', prefix: 'y' }], pathPrefix: '/api', mode: 'Mirror', ttl: '2h', owner: 'me' }))
      .toMatchObject({ apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept', metadata: { name: 'n', namespace: 'shop' }, spec: { workload: { kind: 'StatefulSet', name: 'db' }, port: 5432, match: { headers: [{ name: 'x', prefix: 'y' }], pathPrefix: '/api' }, mode: 'Mirror', ttl: '2h', owner: 'me' } });
  });
});

describe('describeMatch', () => {
  it.each([
    [undefined, 'all requests'],
    [{ headers: [{ name: 'x-detour-user', exact: 'alice' }] }, 'x-detour-user=alice'],
    [{ headers: [{ name: 'a', prefix: 'p' }, { name: 'b', regex: 'r+' }], pathPrefix: '/api' }, 'a^=p, b~=r+, path under /api'],
    [{ baggage: [{ key: 'detour-user', exact: 'alice' }], cookies: [{ name: 'c', prefix: 'x' }], query: [{ name: 'q', regex: 'a.*' }] }, 'baggage detour-user=alice, cookie c^=x, query q~=a.*'],
  ])('%j → %s', (m, text) => expect(describeMatch(m)).toBe(text));
});

describe('baggage, cookie and query rules in specs', () => {
  const base = { name: 'n', namespace: 'shop', workload: { kind: 'Deployment' as const, name: 'backend' }, port: 'http', headers: [], mode: 'Steal' as const };
  it('puts them into spec.match, and only those given', () => {
    expect(buildIntercept({ ...base, baggage: [{ key: 'detour-user', exact: 'alice' }] }).spec.match).toEqual({ baggage: [{ key: 'detour-user', exact: 'alice' }] });
    expect(buildIntercept({ ...base, cookies: [{ name: 'c', exact: '1' }], query: [{ name: 'q', exact: '2' }] }).spec.match).toEqual({ cookies: [{ name: 'c', exact: '1' }], query: [{ name: 'q', exact: '2' }] });
  });
  it('names the Intercept after the first rule of any kind', () => {
    expect(buildInterceptName('backend', [{ key: 'detour-user', exact: 'alice' } as { exact: string }], 'me@x')).toBe('alice-backend');
  });
  it('refuses to adopt an Intercept whose baggage rule differs', () => {
    const existing = buildIntercept({ ...base, baggage: [{ key: 'detour-user', exact: 'alice' }] });
    expect(planAdoption(existing, buildIntercept({ ...base, baggage: [{ key: 'detour-user', exact: 'bob' }] }).spec)).toMatch(/match baggage detour-user=alice/);
    expect(planAdoption(existing, buildIntercept({ ...base, cookies: [{ name: 'detour-user', exact: 'alice' }] }).spec)).toMatch(/match baggage/);
    expect(planAdoption(existing, buildIntercept({ ...base, baggage: [{ key: 'detour-user', exact: 'alice' }] }).spec)).toBeUndefined();
  });
});
