// Developers come and go all day on a shared cluster: after N intercepts were routed, served and
// removed, the sidecar's /metrics names none of them, and an intercept re-created under an old name
// starts counting from zero. Real sidecar, real tunnels, the real admin port.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { planGoneIntercepts, splitInterceptLabel } from './intercept-series.js';
import { request, startHarness, userRoute, type Harness } from '../test/fixtures/sidecar-harness.js';

async function metricsText(h: Harness): Promise<string> {
  const res = await fetch(`${h.adminUrl}/metrics`);
  return res.text();
}

/** Intercept names that appear in any series of /metrics. */
function interceptsIn(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/intercept="([^"]*)"/g)) for (const i of splitInterceptLabel(m[1]!)) out.add(i);
  return out;
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('intercepts that come and go', () => {
  let h: Harness;
  beforeAll(async () => { h = await startHarness(); });
  afterAll(async () => { await h.close(); });

  it('leaves no series of intercepts that are gone in /metrics after 12 came and went', async () => {
    const N = 12;
    for (let n = 0; n < N; n++) {
      const user = `dev${n}`;
      // Steal with a developer, then a fallback request after the developer left, as a session does.
      h.setRoutes([userRoute('keeper', 'keeper-token'), userRoute(user, `${user}-token`)]);
      const tunnel = await h.developer(`${user}-token`);
      expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': user } })).json().pod).toBe('laptop');
      await tunnel.close();
      expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': user } })).json().pod).toBe('app');
      h.setRoutes([userRoute('keeper', 'keeper-token')]); // the Intercept was deleted
    }
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'keeper' } })).json().pod).toBe('app');
    expect((await request({ port: h.proxyPort })).json().pod).toBe('app');
    await eventually(async () => [...interceptsIn(await metricsText(h))].every((i) => i === 'shop/keeper'), 'the gone intercepts to leave /metrics');
    const text = await metricsText(h);
    expect([...interceptsIn(text)]).toEqual(['shop/keeper']);
    expect(text).toMatch(/detour_sidecar_requests_total\{port="http",intercept="shop\/keeper",result="fallback"\} 1/);
    expect(text).toMatch(/detour_sidecar_requests_total\{port="http",intercept="",result="app"\}/);
  });

  it('counts an intercept re-created under an old name from zero', async () => {
    h.setRoutes([userRoute('keeper', 'keeper-token'), userRoute('dev0', 'dev0-token')]);
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'dev0' } })).json().pod).toBe('app');
    expect(h.sidecar.report().intercepts['shop/dev0']).toEqual({ clients: 0, routed: 0, fallback: 1 });
    const text = await metricsText(h);
    expect(text).toMatch(/detour_sidecar_requests_total\{port="http",intercept="shop\/dev0",result="fallback"\} 1\n/);
    expect(text).not.toMatch(/intercept="shop\/dev0",result="developer"/);
  });
});

describe('planGoneIntercepts', () => {
  it.each([
    ['nothing present', [], ['a'], [], []],
    ['routed ones stay', ['a', 'b'], ['a'], [], ['b']],
    ['a connected tunnel keeps its intercepts, also a multi-intercept label', ['a', 'b', 'c'], [], ['a,b'], ['c']],
    ['the no-intercept label is never gone', [''], [], [], []],
  ])('%s', (_name, present, routed, labels, gone) => {
    expect([...planGoneIntercepts(present, routed, labels)].sort()).toEqual(gone);
  });
});
