import { describe, expect, it } from '@jest/globals';
import { compileHeaderRule, compileRoutes, headerLookup, invalidRoutes, isKubeProbe, matchRoute, routeTargetsPort } from './match.js';
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
      name: 'a pattern RE2 refuses never matches',
      routes: [route('shop/bad', { match: { headers: [{ name: 'x-user', regex: '(?=a)' }] } })],
      headers: { 'x-user': 'a' }, want: undefined,
    },
    {
      name: 'regex has RE2 semantics: inline flags',
      routes: [route('shop/r', { match: { headers: [{ name: 'x-user', regex: '(?i)alice' }] } })],
      headers: { 'x-user': 'ALICE' }, want: 'shop/r',
    },
    {
      name: 'regex has RE2 semantics: POSIX classes',
      routes: [route('shop/r', { match: { headers: [{ name: 'x-user', regex: '[[:alpha:]]+' }] } })],
      headers: { 'x-user': 'alice' }, want: 'shop/r',
    },
    {
      name: 'regex alternation is anchored as a whole',
      routes: [route('shop/r', { match: { headers: [{ name: 'x-user', regex: 'a|ab' }] } })],
      headers: { 'x-user': 'ab' }, want: 'shop/r',
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
    { name: 'pathPrefix /api on /api', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/api', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api on /api/', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/api/', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api on /api/orders?x=1', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/api/orders?x=1', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api on /api?x=1', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/api?x=1', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api on /apix', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/apix', headers: {}, want: undefined },
    { name: 'pathPrefix /api on /api-docs', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/api-docs', headers: {}, want: undefined },
    { name: 'pathPrefix /api on /other?next=/api', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/other?next=/api', headers: {}, want: undefined },
    { name: 'pathPrefix /api on /API', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/API', headers: {}, want: undefined },
    { name: 'pathPrefix /api/ on /api', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api/' } })], path: '/api', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api/ on /api/x', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api/' } })], path: '/api/x', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api/ on /apix', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api/' } })], path: '/apix', headers: {}, want: undefined },
    { name: 'pathPrefix / on /anything', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/' } })], path: '/anything', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix / on /', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/' } })], path: '/', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api on /x/../api', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/x/../api', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /x on /x/../api', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/x' } })], path: '/x/../api', headers: {}, want: undefined },
    { name: 'pathPrefix /api on /api/../admin', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/api/../admin', headers: {}, want: undefined },
    { name: 'pathPrefix /admin on /api/../admin', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/admin' } })], path: '/api/../admin', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api on /./api/./x', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/./api/./x', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api on /%61pi', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/%61pi', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api on /%61%70%69/x', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/%61%70%69/x', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /x on /x/%2e%2e/api', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/x' } })], path: '/x/%2e%2e/api', headers: {}, want: undefined },
    { name: 'pathPrefix /api on /x/%2E%2E/api', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/x/%2E%2E/api', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api on /api%2Fx', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/api%2Fx', headers: {}, want: undefined },
    { name: 'pathPrefix /a%2fb on /a%2Fb/c', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/a%2fb' } })], path: '/a%2Fb/c', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api on //api', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '//api', headers: {}, want: undefined },
    { name: 'pathPrefix /api on http://checkout.shop/api/x', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: 'http://checkout.shop/api/x', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /api on *', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '*', headers: {}, want: undefined },
    { name: 'pathPrefix /api on /api#frag', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/api' } })], path: '/api#frag', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /a/b on /a/b/c', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/a/b' } })], path: '/a/b/c', headers: {}, want: 'shop/api' },
    { name: 'pathPrefix /a/b on /a/bc', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/a/b' } })], path: '/a/bc', headers: {}, want: undefined },
    { name: 'pathPrefix /a/b on /a', routes: [route('shop/api', { match: { headers: [], pathPrefix: '/a/b' } })], path: '/a', headers: {}, want: undefined },
    {
      name: 'header and path must both hold',
      routes: [route('shop/a', { match: { headers: [{ name: 'x-detour-user', exact: 'alice' }], pathPrefix: '/api' } })],
      path: '/web', headers: { 'x-detour-user': 'alice' }, want: undefined,
    },
    { name: 'global route takes everything', routes: [route('shop/global')], headers: {}, want: 'shop/global' },
    {
      name: 'an older global Steal keeps the requests of a newer, more specific Steal',
      routes: [route('shop/global', { createdAt: '2029-01-01T00:00:00Z' }), { ...alice, createdAt: '2029-06-01T00:00:00Z' }],
      headers: { 'x-detour-user': 'alice' }, want: 'shop/global',
    },
    {
      name: 'the reproduced hijack: a newer regex .+ with pathPrefix / does not take alice\'s requests',
      routes: [
        { ...alice, createdAt: '2029-01-01T00:00:00Z' },
        route('shop/zz-hijack', { createdAt: '2029-06-01T00:00:00Z', match: { headers: [{ name: 'x-detour-user', regex: '.+' }], pathPrefix: '/' } }),
        route('shop/aa-hijack', { createdAt: '2029-06-01T00:00:00Z', match: { headers: [{ name: 'x-detour-user', regex: '.+' }], pathPrefix: '/' } }),
      ],
      headers: { 'x-detour-user': 'alice' }, want: 'shop/alice',
    },
    {
      name: 'same creation time: the intercept key decides, not table order',
      routes: [route('shop/b', { createdAt: '2029-01-01T00:00:00Z' }), route('shop/a', { createdAt: '2029-01-01T00:00:00Z' })],
      headers: {}, want: 'shop/a',
    },
    {
      name: 'a route without createdAt sorts after dated ones',
      routes: [route('shop/a'), route('shop/b', { createdAt: '2029-01-01T00:00:00Z' })],
      headers: {}, want: 'shop/b',
    },
    {
      name: 'Steal beats a more specific, older Mirror',
      routes: [
        route('shop/mirror', { mode: 'Mirror', createdAt: '2028-01-01T00:00:00Z', match: { headers: [{ name: 'x-detour-user', exact: 'alice' }], pathPrefix: '/api' } }),
        route('shop/steal', { createdAt: '2029-01-01T00:00:00Z', match: { headers: [{ name: 'x-detour-user', prefix: 'ali' }] } }),
      ],
      path: '/api/x', headers: { 'x-detour-user': 'alice' }, want: 'shop/steal',
    },
    {
      name: 'between Mirrors the older wins',
      routes: [
        route('shop/new', { mode: 'Mirror', createdAt: '2029-06-01T00:00:00Z', match: { headers: [{ name: 'x-a', exact: '1' }] } }),
        route('shop/old', { mode: 'Mirror', createdAt: '2029-01-01T00:00:00Z', match: { headers: [{ name: 'x-a', prefix: '' }] } }),
      ],
      headers: { 'x-a': '1' }, want: 'shop/old',
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

describe('header regexes run in a linear-time engine (issue 12: ReDoS)', () => {
  // With V8's backtracking RegExp, `(a+)+` against 26 a's and a mismatch took ~1.7 s and doubled
  // per character: this test never finishes on that code (each 64-character value would take
  // ~10^10 years). With RE2 it is linear in the value's length.
  const hostile = route('shop/redos', { match: { headers: [{ name: 'x-user', regex: '(a+)+' }] } });
  const compiled = compileRoutes(table([hostile]), { name: 'http', appPort: 8080 });
  it.each(['(a+)+', '(a|aa)+', '(a*)*b', '(.*a){20}'])('%s against a hostile 64-character value still decides', (pattern) => {
    const routes = compileRoutes(table([route('shop/r', { match: { headers: [{ name: 'x-user', regex: pattern }] } })]), { name: 'http', appPort: 8080 });
    const value = `${'a'.repeat(64)}!`;
    for (let i = 0; i < 100; i++) expect(matchRoute(routes, { path: '/', header: headerLookup({ 'x-user': value }) }, NOW)).toBeUndefined();
  });
  it('still matches what the pattern means', () => {
    expect(matchRoute(compiled, { path: '/', header: headerLookup({ 'x-user': 'a'.repeat(64) }) }, NOW)?.intercept).toBe('shop/redos');
    expect(matchRoute(compiled, { path: '/', header: headerLookup({ 'x-user': `${'a'.repeat(4096)}!` }) }, NOW)).toBeUndefined();
  });
});

describe('baggage, cookie and query rules', () => {
  const byBaggage = route('shop/bag', { match: { headers: [], baggage: [{ key: 'detour-user', exact: 'alice' }] } });
  const byCookie = route('shop/cookie', { match: { headers: [], cookies: [{ name: 'detour-user', exact: 'alice' }] } });
  const byQuery = route('shop/query', { match: { headers: [], query: [{ name: 'detour-user', exact: 'alice' }] } });
  const cases: Array<{ name: string; routes: Route[]; path?: string; headers: Record<string, string | string[]>; want: string | undefined }> = [
    { name: 'baggage member', routes: [byBaggage], headers: { baggage: 'tenant=t1, detour-user=alice;ttl=3' }, want: 'shop/bag' },
    { name: 'baggage member percent-decoded', routes: [route('shop/b', { match: { headers: [], baggage: [{ key: 'u', exact: 'a b' }] } })], headers: { baggage: 'u=a%20b' }, want: 'shop/b' },
    { name: 'baggage over two headers (array)', routes: [byBaggage], headers: { baggage: ['tenant=t1', 'detour-user=alice'] }, want: 'shop/bag' },
    { name: 'baggage: another member value', routes: [byBaggage], headers: { baggage: 'detour-user=bob' }, want: undefined },
    { name: 'baggage: the raw header value is not a member', routes: [byBaggage], headers: { baggage: 'x=detour-user=alice' }, want: undefined },
    { name: 'baggage: no header', routes: [byBaggage], headers: {}, want: undefined },
    { name: 'baggage: malformed header is non-matching, not an error', routes: [byBaggage], headers: { baggage: 'detour-user="alice"' }, want: undefined },
    { name: 'baggage: a header rule on x-detour-user does not see baggage', routes: [alice], headers: { baggage: 'x-detour-user=alice' }, want: undefined },
    { name: 'baggage prefix', routes: [route('shop/p', { match: { headers: [], baggage: [{ key: 'tenant', prefix: 'team-' }] } })], headers: { baggage: 'tenant=team-blue' }, want: 'shop/p' },
    { name: 'baggage regex is anchored', routes: [route('shop/r', { match: { headers: [], baggage: [{ key: 'u', regex: 'ali' }] } })], headers: { baggage: 'u=alice' }, want: undefined },
    { name: 'cookie', routes: [byCookie], headers: { cookie: 'session=xyz; detour-user=alice' }, want: 'shop/cookie' },
    { name: 'cookie over two headers (array)', routes: [byCookie], headers: { cookie: ['session=xyz', 'detour-user=alice'] }, want: 'shop/cookie' },
    { name: 'cookie quoted', routes: [byCookie], headers: { cookie: 'detour-user="alice"' }, want: 'shop/cookie' },
    { name: 'cookie not percent-decoded', routes: [byCookie], headers: { cookie: 'detour-user=al%69ce' }, want: undefined },
    { name: 'cookie: another value', routes: [byCookie], headers: { cookie: 'detour-user=bob' }, want: undefined },
    { name: 'cookie: the first of a repeated name', routes: [byCookie], headers: { cookie: 'detour-user=bob; detour-user=alice' }, want: undefined },
    { name: 'cookie: malformed is non-matching', routes: [byCookie], headers: { cookie: 'detour-user=ali\\ce' }, want: undefined },
    { name: 'query', routes: [byQuery], path: '/api?x=1&detour-user=alice', headers: {}, want: 'shop/query' },
    { name: 'query decoded', routes: [byQuery], path: '/api?detour%2Duser=%61lice', headers: {}, want: 'shop/query' },
    { name: 'query: the first of a repeated name', routes: [byQuery], path: '/?detour-user=bob&detour-user=alice', headers: {}, want: undefined },
    { name: 'query: in the fragment is no match', routes: [byQuery], path: '/#detour-user=alice', headers: {}, want: undefined },
    {
      name: 'all kinds must hold',
      routes: [route('shop/all', { match: { headers: [{ name: 'x-env', exact: 'dev' }], baggage: [{ key: 'u', exact: 'a' }], cookies: [{ name: 'c', exact: '1' }], query: [{ name: 'q', exact: '2' }], pathPrefix: '/api' } })],
      path: '/api/x?q=2', headers: { 'x-env': 'dev', baggage: 'u=a', cookie: 'c=1' }, want: 'shop/all',
    },
    {
      name: 'all kinds must hold (one missing)',
      routes: [route('shop/all', { match: { headers: [{ name: 'x-env', exact: 'dev' }], baggage: [{ key: 'u', exact: 'a' }], cookies: [{ name: 'c', exact: '1' }], query: [{ name: 'q', exact: '2' }], pathPrefix: '/api' } })],
      path: '/api/x?q=3', headers: { 'x-env': 'dev', baggage: 'u=a', cookie: 'c=1' }, want: undefined,
    },
    { name: 'a baggage regex RE2 refuses never matches', routes: [route('shop/bad', { match: { headers: [], baggage: [{ key: 'u', regex: '(?=a)' }] } })], headers: { baggage: 'u=a' }, want: undefined },
  ];
  it.each(cases)('$name', ({ routes, path, headers, want }) => {
    expect(decide(routes, path ?? '/', headers)).toBe(want);
  });

  it('a sidecar that predates key rules never matches a guarded route; this one ignores the guard', async () => {
    const { KEY_RULES_GUARD } = await import('./table.js');
    const guarded = route('shop/g', { match: { headers: [{ ...KEY_RULES_GUARD }], baggage: [{ key: 'u', exact: 'a' }] } });
    expect(decide([guarded], '/', { baggage: 'u=a' })).toBe('shop/g');
    // An older sidecar evaluates the guard as a plain header rule: no request has that header.
    expect(compileHeaderRule(KEY_RULES_GUARD).test('v1') && headerLookup({ baggage: 'u=a', ':path': '/' })(KEY_RULES_GUARD.name) !== undefined).toBe(false);
  });

  function recordingInput(path: string, headers: Record<string, string>) {
    const asked: string[] = [];
    const lookup = headerLookup(headers);
    return { asked, input: { get path() { asked.push(':path'); return path; }, header: (n: string) => { asked.push(n); return lookup(n); } } };
  }

  it('a table without such rules never reads baggage, cookie or the query', () => {
    const routes = compileRoutes(table([alice, route('shop/p', { match: { headers: [{ name: 'x-tenant', prefix: 't' }] } })]), { name: 'http', appPort: 8080 });
    const { asked, input } = recordingInput('/api?detour-user=alice', { baggage: 'detour-user=alice', cookie: 'detour-user=alice', 'x-detour-user': 'bob' });
    expect(matchRoute(routes, input, NOW)).toBeUndefined();
    expect(asked).not.toContain('baggage');
    expect(asked).not.toContain('cookie');
    expect(asked).not.toContain(':path');
  });

  it('parses each kind at most once per request, and only when a route gets that far', () => {
    const routes = compileRoutes(table([
      route('shop/a', { createdAt: '2029-01-01T00:00:00Z', match: { headers: [], baggage: [{ key: 'u', exact: 'a' }], cookies: [{ name: 'c', exact: 'x' }] } }),
      route('shop/b', { createdAt: '2029-01-02T00:00:00Z', match: { headers: [], baggage: [{ key: 'u', exact: 'b' }], cookies: [{ name: 'c', exact: 'y' }] } }),
      route('shop/c', { createdAt: '2029-01-03T00:00:00Z', match: { headers: [{ name: 'x-never', exact: '1' }], query: [{ name: 'q', exact: '1' }] } }),
    ]), { name: 'http', appPort: 8080 });
    const { asked, input } = recordingInput('/?q=1', { baggage: 'u=b', cookie: 'c=z' });
    expect(matchRoute(routes, input, NOW)).toBeUndefined();
    expect(asked.filter((n) => n === 'baggage')).toHaveLength(1);
    expect(asked.filter((n) => n === 'cookie')).toHaveLength(1);
    expect(asked).not.toContain(':path'); // shop/c's header rule fails first: the query is never parsed
  });
});
