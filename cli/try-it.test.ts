import { describe, expect, it } from '@jest/globals';
import type { Intercept, InterceptMatch } from '../core/api/intercept.js';
import { buildTryIt, shellQuote } from './try-it.js';

function icpt(match?: InterceptMatch): Intercept {
  return { apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept', metadata: { name: 'x', namespace: 'shop' }, spec: { workload: { kind: 'Deployment', name: 'checkout' }, ...(match ? { match } : {}) } };
}

describe('buildTryIt', () => {
  it.each<[string, InterceptMatch | undefined, string[]]>([
    ['global: nothing to show', undefined, []],
    ['header', { headers: [{ name: 'x-detour-user', exact: 'alice' }] }, ["Send a matching request (from where checkout is reachable): curl -H 'x-detour-user: alice' http://checkout/"]],
    ['baggage is percent-encoded', { baggage: [{ key: 'detour-user', exact: 'Amélie x' }] }, [
      "Send a matching request (from where checkout is reachable): curl -H 'baggage: detour-user=Am%C3%A9lie%20x' http://checkout/",
      'Services instrumented with OpenTelemetry pass the baggage header on by themselves; send it to the first one.',
    ]],
    ['cookie: curl -b and the browser', { cookies: [{ name: 'detour-user', exact: 'alice' }] }, [
      "Send a matching request (from where checkout is reachable): curl -b detour-user=alice http://checkout/",
      'In a browser: open the page, then in the devtools console run: document.cookie = "detour-user=alice; path=/"',
    ]],
    ['query and path', { query: [{ name: 'detour user', prefix: 'a&b' }], pathPrefix: '/api' }, ["Send a matching request (from where checkout is reachable): curl 'http://checkout/api?detour%20user=a%26b'"]],
    ['a regex gets a placeholder', { headers: [{ name: 'x-user', regex: 'ali.*' }] }, ["Send a matching request (from where checkout is reachable): curl -H 'x-user: <value matching ali.*>' http://checkout/"]],
  ])('%s', (_n, match, want) => expect(buildTryIt(icpt(match))).toEqual(want));
});

describe('shellQuote', () => {
  it.each([['plain', 'plain'], ["it's", "'it'\\''s'"], ['a b', "'a b'"], ['a;b', "'a;b'"]])('%s → %s', (w, want) => expect(shellQuote(w)).toBe(want));
});
