// Route matching through a real sidecar with Node's HTTP client: hostile regexes cannot stall the
// pod (issue 12), path prefixes match element-wise on the normalised path and the app and the
// laptop still receive the request target exactly as sent (issue 18), and an older route keeps its
// requests when a newer, more specific one arrives in the same table (issue 12).

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { makeRoute, request, startHarness, type Harness } from '../test/fixtures/sidecar-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  h.setRoutes([
    makeRoute('shop/redos', 'redos-token', { match: { headers: [{ name: 'x-redos', regex: '(a+)+' }] } }),
    makeRoute('shop/api', 'api-token', { match: { headers: [], pathPrefix: '/api' }, createdAt: '2030-01-01T00:00:00Z' }),
    // Newer and more specific than shop/api: before issue 12 it took /api requests carrying the header.
    makeRoute('shop/newer', 'newer-token', { match: { headers: [{ name: 'x-detour-user', regex: '.+' }], pathPrefix: '/' }, createdAt: '2030-06-01T00:00:00Z' }),
  ]);
  await h.developer('api-token');
  await h.developer('redos-token');
});
afterAll(async () => { await h.close(); });

describe('header regexes', () => {
  it('a hostile value against (a+)+ is decided at once and the pod keeps serving', async () => {
    // On the backtracking RegExp this request alone blocked the event loop for ~10^10 years.
    const hostile = await request({ port: h.proxyPort, headers: { 'x-redos': `${'a'.repeat(64)}!` } });
    expect(hostile.json().pod).toBe('app');
    expect((await request({ port: h.proxyPort, headers: { 'x-redos': 'a'.repeat(64) } })).json().pod).toBe('laptop');
  });
});

describe('pathPrefix /api', () => {
  it.each<[string, 'laptop' | 'app']>([
    ['/api', 'laptop'],
    ['/api/', 'laptop'],
    ['/api/orders?x=1', 'laptop'],
    ['/apix', 'app'],
    ['/api-docs', 'app'],
    ['/%61pi/orders', 'laptop'],
    ['/x/../api/orders', 'laptop'],
    ['/api/../admin', 'app'],
    ['/api%2Fadmin', 'app'],
  ])('%s → %s, which receives the path exactly as sent', async (path, where) => {
    const reply = (await request({ port: h.proxyPort, path })).json();
    expect(reply.pod).toBe(where);
    expect(reply.path).toBe(path);
  });

  it('an older route keeps its requests when a newer, more specific route overlaps it', async () => {
    // shop/newer has no developer: had it won, fallback App would have sent this to the app.
    expect((await request({ port: h.proxyPort, path: '/api/x', headers: { 'x-detour-user': 'mallory' } })).json().pod).toBe('laptop');
  });
});
