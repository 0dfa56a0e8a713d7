import { describe, expect, it } from '@jest/globals';
import { compileRoutes, headerLookup, invalidRoutes, isKubeProbe, matchRoute, routeTargetsPort } from './match.js';
import type { Route, RoutingTable } from './table.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const workload = { kind: 'Deployment' as const, namespace: 'shop', name: 'checkout' };

function route(intercept: string, extra: Partial<Route> = {}): Route {
  return { intercept, port: 'http', mode: 'Steal', fallback: 'App', tokenHash: 'ab'.repeat(32), ...extra };
}

function table(routes: Route[]): RoutingTable {
  return { version: 1, epoch: 'e', workload, routes };
}

function decide(routes: Route[], path: string, headers: Record<string, string | string[]>, now = NOW): string | undefined {
  const compiled = compileRoutes(table(routes), { name: 'http', appPort: 8080 });
  return matchRoute(compiled, { path, header: headerLookup(headers) }, now)?.intercept;
}

const alice = route('shop/alice', { match: { headers: [{ name: 'x-detour-user', exact: 'alice' }] } });

describe('matchRoute', () => {
  const cases: Array<{ name: string; routes: Route[]; path?: string; headers: Record<string, string | string[]>; want: string | undefined; now?: number }> = [
    { name: 'no routes: app', routes: [], headers: { 'x-detour-user': 'alice' }, want: undefined },
    { name: 'exact header matches', routes: [alice], headers: { 'x-detour-user': 'alice' }, want: 'shop/alice' },
    { name: 'exact is case-sensitive in the value', routes: [alice], headers: { 'x-detour-user': 'Alice' }, want: undefined },
    { name: 'exact does not match a longer value', routes: [alice], headers: { 'x-detour-user': 'alice2' }, want: undefined },
    { name: 'missing header: app', routes: [alice], headers: {}, want: undefined },
    {
      name: 'rule names are case-insensitive',
      routes: [route('shop/a', { match: { headers: [{ name: 'X-Detour-User', exact: 'alice' }] } })],
      headers: { 'x-detour-user': 'alice' }, want: 'shop/a',
    },
    {
      name: 'prefix',
      routes: [route('shop/p', { match: { headers: [{ name: 'x-tenant', prefix: 'team-' }] } })],
      headers: { 'x-tenant': 'team-blue' }, want: 'shop/p',
    },
    {
      name: 'prefix not at start',
      routes: [route('shop/p', { match: { headers: [{ name: 'x-tenant', prefix: 'team-' }] } })],
      headers: { 'x-tenant': 'my-team-blue' }, want: undefined,
    },
    {
      name: 'regex is anchored (whole value)',
      routes: [route('shop/r', { match: { headers: [{ name: 'x-user', regex: 'ali(ce|son)' }] } })],
      headers: { 'x-user': 'xalice' }, want: undefined,
    },
    {
      name: 'regex matches whole value',
      routes: [route('shop/r', { match: { headers: [{ name: 'x-user', regex: 'ali(ce|son)' }] } })],
      headers: { 'x-user': 'alison' }, want: 'shop/r',
    },
    {
      name: 'invalid regex never matches',
      routes: [route('shop/bad', { match: { headers: [{ name: 'x-user', regex: '(' }] } })],
      headers: { 'x-user': '(' }, want: undefined,
    },
    {
      name: 'all rules must hold (one fails)',
      routes: [route('shop/both', { match: { headers: [{ name: 'x-a', exact: '1' }, { name: 'x-b', exact: '2' }] } })],
      headers: { 'x-a': '1', 'x-b': '3' }, want: undefined,
    },
    {
      name: 'all rules must hold (both hold)',
      routes: [route('shop/both', { match: { headers: [{ name: 'x-a', exact: '1' }, { name: 'x-b', exact: '2' }] } })],
      headers: { 'x-a': '1', 'x-b': '2' }, want: 'shop/both',
    },
    {
      name: 'path prefix holds',
      routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })],
      path: '/api/orders?x=1', headers: {}, want: 'shop/api',
    },
    {
      name: 'path prefix is checked on the path, not the query',
      routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })],
      path: '/other?next=/api', headers: {}, want: undefined,
    },
    {
      name: 'header and path must both hold',
      routes: [route('shop/a', { match: { headers: [{ name: 'x-detour-user', exact: 'alice' }], pathPrefix: '/api' } })],
      path: '/web', headers: { 'x-detour-user': 'alice' }, want: undefined,
    },
    { name: 'global route takes everything', routes: [route('shop/global')], headers: {}, want: 'shop/global' },
    {
      name: 'specific route beats global',
      routes: [route('shop/global'), alice],
      headers: { 'x-detour-user': 'alice' }, want: 'shop/alice',
    },
    {
      name: 'longer path prefix wins at equal rule count',
      routes: [route('shop/short', { match: { headers: [], pathPrefix: '/a' } }), route('shop/long', { match: { headers: [], pathPrefix: '/a/b' } })],
      path: '/a/b/c', headers: {}, want: 'shop/long',
    },
    {
      name: 'Steal beats Mirror at equal specificity',
      routes: [
        route('shop/mirror', { mode: 'Mirror', match: { headers: [{ name: 'x-detour-user', exact: 'alice' }] } }),
        route('shop/steal', { match: { headers: [{ name: 'x-detour-user', prefix: 'ali' }] } }),
      ],
      headers: { 'x-detour-user': 'alice' }, want: 'shop/steal',
    },
    {
      name: 'ties keep table order',
      routes: [route('shop/first', { match: { headers: [{ name: 'x-a', prefix: '' }] } }), route('shop/second', { match: { headers: [{ name: 'x-a', prefix: '' }] } })],
      headers: { 'x-a': 'z' }, want: 'shop/first',
    },
    {
      name: 'expired route does not match',
      routes: [route('shop/old', { expiresAt: '2029-12-31T23:59:59Z' })], headers: {}, want: undefined,
    },
    {
      name: 'route expires exactly at expiresAt',
      routes: [route('shop/edge', { expiresAt: '2030-01-01T00:00:00Z' })], headers: {}, want: undefined,
    },
    {
      name: 'route not yet expired',
      routes: [route('shop/new', { expiresAt: '2030-01-01T00:00:01Z' })], headers: {}, want: 'shop/new',
    },
    { name: 'kubelet probes never match', routes: [route('shop/global')], headers: { 'user-agent': 'kube-probe/1.30' }, want: undefined },
    { name: 'other agents do match', routes: [route('shop/global')], headers: { 'user-agent': 'curl/8' }, want: 'shop/global' },
    {
      name: 'multi-valued headers are joined',
      routes: [route('shop/m', { match: { headers: [{ name: 'x-m', exact: 'a, b' }] } })],
      headers: { 'x-m': ['a', 'b'] }, want: 'shop/m',
    },
    {
      name: 'an Outbound route never matches, even global on the port',
      routes: [route('shop/run', { mode: 'Outbound' })], headers: {}, want: undefined,
    },
    {
      name: 'an Outbound route does not shadow a Steal route',
      routes: [route('shop/run', { mode: 'Outbound' }), alice], headers: { 'x-detour-user': 'alice' }, want: 'shop/alice',
    },
    {
      name: 'route for another port is ignored',
      routes: [route('shop/grpc', { port: 'grpc' })], headers: {}, want: undefined,
    },
  ];

  it.each(cases)('$name', ({ routes, path, headers, want, now }) => {
    expect(decide(routes, path ?? '/', headers, now)).toBe(want);
  });
});

describe('routeTargetsPort', () => {
  it.each([
    { port: 'http' as string | number, id: { name: 'http', appPort: 8080 }, want: true },
    { port: 8080, id: { name: 'http', appPort: 8080 }, want: true },
    { port: '8080', id: { appPort: 8080 }, want: true },
    { port: 'http', id: { appPort: 8080 }, want: false },
    { port: 9090, id: { name: 'http', appPort: 8080 }, want: false },
  ])('route port $port on $id.name/$id.appPort → $want', ({ port, id, want }) => {
    expect(routeTargetsPort(route('x/y', { port }), id)).toBe(want);
  });
});

describe('invalidRoutes and isKubeProbe', () => {
  it('reports routes that can never match', () => {
    const bad = invalidRoutes(table([alice, route('shop/bad', { match: { headers: [{ name: 'x', regex: '[' }] } }), route('shop/t', { expiresAt: 'soon' })]));
    expect(bad.map((b) => b.intercept)).toEqual(['shop/bad', 'shop/t']);
  });
  it('recognises the kubelet prober', () => {
    expect(isKubeProbe('kube-probe/1.29')).toBe(true);
    expect(isKubeProbe('Mozilla/5.0')).toBe(false);
    expect(isKubeProbe(undefined)).toBe(false);
  });
});
