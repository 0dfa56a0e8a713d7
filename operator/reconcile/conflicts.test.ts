import { describe, expect, it } from '@jest/globals';
import type { Intercept, InterceptSpec } from '../../core/api/intercept.js';
import { planConflicts } from './conflicts.js';

function icpt(name: string, created: string, spec: Partial<InterceptSpec>): Intercept {
  return {
    apiVersion: 'detour.dev/v1alpha1',
    kind: 'Intercept',
    metadata: { name, namespace: 'shop', creationTimestamp: created },
    spec: { workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', mode: 'Steal', ...spec },
  };
}
const alice = { headers: [{ name: 'x-detour-user', exact: 'alice' }] };
const bob = { headers: [{ name: 'x-detour-user', exact: 'bob' }] };

describe('planConflicts', () => {
  it.each<[string, Intercept[], Record<string, string>]>([
    ['different users do not conflict', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: bob })], {}],
    ['identical rules: the newer yields', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: alice })], { 'shop/b': 'shop/a' }],
    ['header names compare case-insensitively and order does not matter', [
      icpt('a', 't1', { match: { headers: [{ name: 'X-Detour-User', exact: 'alice' }, { name: 'x-env', prefix: 'dev' }] } }),
      icpt('b', 't2', { match: { headers: [{ name: 'x-env', prefix: 'dev' }, { name: 'x-detour-user', exact: 'alice' }] } }),
    ], { 'shop/b': 'shop/a' }],
    ['a global intercept conflicts with any older one', [icpt('a', 't1', { match: alice }), icpt('g', 't2', {})], { 'shop/g': 'shop/a' }],
    ['an older global intercept blocks newer ones', [icpt('g', 't1', {}), icpt('a', 't2', { match: alice })], { 'shop/a': 'shop/g' }],
    ['same creation time: the name decides', [icpt('b', 't1', { match: alice }), icpt('a', 't1', { match: alice })], { 'shop/b': 'shop/a' }],
    ['Mirror intercepts never conflict', [icpt('a', 't1', { match: alice }), icpt('m', 't2', { match: alice, mode: 'Mirror' })], {}],
    ['different ports do not conflict', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: alice, port: 'grpc' })], {}],
    ['different workloads do not conflict', [icpt('a', 't1', { match: alice }), icpt('b', 't2', { match: alice, workload: { kind: 'Deployment', name: 'cart' } })], {}],
    ['disjoint path prefixes do not conflict', [icpt('a', 't1', { match: { ...alice, pathPrefix: '/api' } }), icpt('b', 't2', { match: { ...alice, pathPrefix: '/web' } })], {}],
    ['nested path prefixes conflict', [icpt('a', 't1', { match: { ...alice, pathPrefix: '/api' } }), icpt('b', 't2', { match: { ...alice, pathPrefix: '/api/v2' } })], { 'shop/b': 'shop/a' }],
    ['an intercept in conflict does not block a newer one', [icpt('a', 't1', { match: alice }), icpt('g', 't2', {}), icpt('b', 't3', { match: bob })], { 'shop/g': 'shop/a' }],
  ])('%s', (_name, intercepts, expected) => {
    expect(Object.fromEntries(planConflicts(intercepts))).toEqual(expected);
  });
});
