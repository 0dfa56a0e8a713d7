import { describe, expect, it } from '@jest/globals';
import type { Intercept, InterceptMatch, InterceptSpec } from '../../core/api/intercept.js';
import { planConflicts } from './conflicts.js';

function icpt(name: string, created: string, spec: Partial<InterceptSpec>): Intercept {
  return {
    apiVersion: 'detour.dev/v1alpha1',
    kind: 'Intercept',
    metadata: { name, namespace: 'shop', creationTimestamp: created },
    spec: { workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', mode: 'Steal', ...spec },
  };
}
const user = (rule: Record<string, string>, pathPrefix?: string): InterceptMatch => ({ headers: [{ name: 'x-detour-user', ...rule }], ...(pathPrefix ? { pathPrefix } : {}) });
const alice = user({ exact: 'alice' });
const bob = user({ exact: 'bob' });

describe('planConflicts', () => {
  it.each<[string, Intercept[], Record<string, string>]>([
    ['different users do not conflict', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: bob })], {}],
    ['different baggage members do not conflict', [icpt('a', 't1', { match: { baggage: [{ key: 'detour-user', exact: 'alice' }] } }), icpt('b', 't2', { match: { baggage: [{ key: 'detour-user', exact: 'bob' }] } })], {}],
    ['the same baggage member conflicts', [icpt('a', 't1', { match: { baggage: [{ key: 'detour-user', exact: 'alice' }] } }), icpt('b', 't2', { match: { baggage: [{ key: 'detour-user', prefix: 'al' }] } })], { 'shop/b': 'shop/a' }],
    ['a cookie rule and a header rule for the same user conflict (one request can carry both)', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: { cookies: [{ name: 'x-detour-user', exact: 'bob' }] } })], { 'shop/b': 'shop/a' }],
    ['different query values do not conflict', [icpt('a', 't1', { match: { query: [{ name: 'u', exact: 'a' }] } }), icpt('b', 't2', { match: { query: [{ name: 'u', exact: 'b' }] } })], {}],
    ['identical rules: the newer yields', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: alice })], { 'shop/b': 'shop/a' }],
    ['header names compare case-insensitively and order does not matter', [
      icpt('a', 't1', { match: { headers: [{ name: 'X-Detour-User', exact: 'alice' }, { name: 'x-env', prefix: 'dev' }] } }),
      icpt('b', 't2', { match: { headers: [{ name: 'x-env', prefix: 'dev' }, { name: 'x-detour-user', exact: 'alice' }] } }),
    ], { 'shop/b': 'shop/a' }],
    ['a global intercept conflicts with any older one', [icpt('a', 't1', { match: alice }), icpt('g', 't2', {})], { 'shop/g': 'shop/a' }],
    ['an older global intercept blocks newer ones', [icpt('g', 't1', {}), icpt('a', 't2', { match: alice })], { 'shop/a': 'shop/g' }],
    ['same creation time: the name decides', [icpt('b', 't1', { match: alice }), icpt('a', 't1', { match: alice })], { 'shop/b': 'shop/a' }],
    ['creation time decides before the name', [icpt('a', 't2', { match: alice }), icpt('z', 't1', { match: alice })], { 'shop/a': 'shop/z' }],
    ['different ports do not conflict', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: alice, port: 'grpc' })], {}],
    ['different workloads do not conflict', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: alice, workload: { kind: 'Deployment', name: 'cart' } })], {}],
    ['an intercept in conflict does not block a newer one', [icpt('a', 't1', { match: alice }), icpt('g', 't2', {}), icpt('b', 't3', { match: bob })], { 'shop/g': 'shop/a' }],

    ['an Outbound intercept (detour run) routes nothing: it blocks no Steal, not even one with fallback Reject', [
      icpt('run', 't1', { mode: 'Outbound' }), icpt('a', 't2', { match: alice, fallback: 'Reject' }), icpt('g', 't3', { match: bob, fallback: 'Reject' }),
    ], {}],
    ['an Outbound intercept never yields', [icpt('a', 't1', {}), icpt('run', 't2', { mode: 'Outbound' })], {}],

    // Issue 12: a more specific (or just different) rule set that some request could match too.
    ['the reproduced hijack: a newer regex .+ with pathPrefix / yields to alice (and bob)', [
      icpt('alice', 't1', { match: alice }), icpt('bob', 't2', { match: bob }), icpt('mallory', 't3', { match: user({ regex: '.+' }, '/') }),
    ], { 'shop/mallory': 'shop/alice' }],
    ['a more specific newer rule set yields: alice + pathPrefix', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: user({ exact: 'alice' }, '/api') })], { 'shop/b': 'shop/a' }],
    ['a more specific newer rule set yields: alice + another header', [
      icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: { headers: [{ name: 'x-detour-user', exact: 'alice' }, { name: 'x-env', exact: 'dev' }] } }),
    ], { 'shop/b': 'shop/a' }],
    ['rules on different headers overlap', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: { headers: [{ name: 'x-tenant', exact: 'blue' }] } })], { 'shop/b': 'shop/a' }],
    ['a path-only intercept overlaps a header-only one', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: { pathPrefix: '/api' } })], { 'shop/b': 'shop/a' }],
    ['exact inside a prefix overlaps', [icpt('a', 't1', { match: user({ prefix: 'ali' }) }), icpt('b', 't2', { match: alice })], { 'shop/b': 'shop/a' }],
    ['exact outside a prefix is disjoint', [icpt('a', 't1', { match: user({ prefix: 'bo' }) }), icpt('b', 't2', { match: alice })], {}],
    ['nested prefixes overlap', [icpt('a', 't1', { match: user({ prefix: 'team-' }) }), icpt('b', 't2', { match: user({ prefix: 'team-blue' }) })], { 'shop/b': 'shop/a' }],
    ['disjoint prefixes are disjoint', [icpt('a', 't1', { match: user({ prefix: 'team-red' }) }), icpt('b', 't2', { match: user({ prefix: 'team-blue' }) })], {}],
    ['exact that a regex matches overlaps', [icpt('a', 't1', { match: user({ regex: 'ali.*' }) }), icpt('b', 't2', { match: alice })], { 'shop/b': 'shop/a' }],
    ['exact that a regex cannot match is disjoint', [icpt('a', 't1', { match: user({ regex: 'bob|carol' }) }), icpt('b', 't2', { match: alice })], {}],
    ['regex against regex counts as overlapping (undecided)', [icpt('a', 't1', { match: user({ regex: 'alice' }) }), icpt('b', 't2', { match: user({ regex: 'bob' }) })], { 'shop/b': 'shop/a' }],
    ['regex against prefix counts as overlapping (undecided)', [icpt('a', 't1', { match: user({ regex: 'alice' }) }), icpt('b', 't2', { match: user({ prefix: 'bob' }) })], { 'shop/b': 'shop/a' }],
    ['one disjoint header is enough, whatever the other rules', [
      icpt('a', 't1', { match: { headers: [{ name: 'x-detour-user', exact: 'alice' }, { name: 'x-env', regex: '.*' }] } }),
      icpt('b', 't2', { match: { headers: [{ name: 'X-DETOUR-USER', exact: 'bob' }], pathPrefix: '/' } }),
    ], {}],
    ['exact values compare case-sensitively', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: user({ exact: 'Alice' }) })], {}],

    // Issue 18: path prefixes overlap element-wise.
    ['/api and /apix are disjoint', [icpt('a', 't1', { match: user({ exact: 'alice' }, '/api') }), icpt('b', 't2', { match: user({ exact: 'alice' }, '/apix') })], {}],
    ['/api and /api-docs are disjoint', [icpt('a', 't1', { match: { pathPrefix: '/api' } }), icpt('b', 't2', { match: { pathPrefix: '/api-docs' } })], {}],
    ['/api and /web are disjoint', [icpt('a', 't1', { match: user({ exact: 'alice' }, '/api') }), icpt('b', 't2', { match: user({ exact: 'alice' }, '/web') })], {}],
    ['nested path prefixes overlap', [icpt('a', 't1', { match: user({ exact: 'alice' }, '/api') }), icpt('b', 't2', { match: user({ exact: 'alice' }, '/api/v2') })], { 'shop/b': 'shop/a' }],
    ['a trailing slash does not make prefixes disjoint', [icpt('a', 't1', { match: { pathPrefix: '/api/' } }), icpt('b', 't2', { match: { pathPrefix: '/api' } })], { 'shop/b': 'shop/a' }],
    ['percent-encoded unreserved characters are the same path', [icpt('a', 't1', { match: { pathPrefix: '/api' } }), icpt('b', 't2', { match: { pathPrefix: '/%61pi/v1' } })], { 'shop/b': 'shop/a' }],
    ['/ overlaps every path prefix', [icpt('a', 't1', { match: { pathPrefix: '/api' } }), icpt('b', 't2', { match: { pathPrefix: '/' } })], { 'shop/b': 'shop/a' }],

    // Mirror.
    ['a Mirror never gets Conflict', [icpt('a', 't1', { match: alice }), icpt('m', 't2', { match: alice, mode: 'Mirror' })], {}],
    ['a newer Steal (fallback App) may overlap an older Mirror', [icpt('m', 't1', { match: alice, mode: 'Mirror' }), icpt('a', 't2', { match: alice })], {}],
    ['a newer Steal with fallback Reject yields to an older overlapping Mirror', [icpt('m', 't1', { match: alice, mode: 'Mirror' }), icpt('r', 't2', { fallback: 'Reject' })], { 'shop/r': 'shop/m' }],
    ['a newer Steal with fallback Reject yields to an older overlapping Steal', [icpt('a', 't1', { match: alice }), icpt('r', 't2', { match: user({ prefix: 'a' }), fallback: 'Reject' })], { 'shop/r': 'shop/a' }],
    ['a Steal with fallback Reject disjoint from the older Mirror is fine', [icpt('m', 't1', { match: alice, mode: 'Mirror' }), icpt('r', 't2', { match: bob, fallback: 'Reject' })], {}],
    ['an older Steal with fallback Reject does not block a newer Mirror', [icpt('r', 't1', { fallback: 'Reject' }), icpt('m', 't2', { match: alice, mode: 'Mirror' })], {}],
  ])('%s', (_name, intercepts, expected) => {
    expect(Object.fromEntries(planConflicts(intercepts))).toEqual(expected);
  });
});
