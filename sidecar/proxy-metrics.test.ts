// The per-request metric series of the inbound proxy: one series per port, intercept and result,
// and the in-flight gauge back at zero once the tunnel streams ended.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request, startHarness, userRoute, type Harness } from '../test/fixtures/sidecar-harness.js';

describe('request metrics', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    h.setRoutes([userRoute('alice', 'alice-token'), userRoute('bob', 'bob-token', { fallback: 'Reject' }), userRoute('carol', 'carol-token')]);
    await h.developer('carol-token');
  });
  afterAll(async () => { await h.close(); });

  async function series(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const v of (await h.sidecar.metrics.requests.get()).values) out[`${v.labels.intercept}|${v.labels.result}`] = v.value;
    return out;
  }

  it('counts each request once under its own intercept and result', async () => {
    for (let i = 0; i < 3; i++) expect((await request({ port: h.proxyPort })).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'alice' } })).status).toBe(200);
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'bob' } })).status).toBe(503);
    expect((await request({ port: h.proxyPort, headers: { 'x-detour-user': 'carol' } })).json().pod).toBe('laptop');
    // A tunnel request is counted when the developer's stream ends, which can be just after the
    // client read a Content-Length body.
    for (let i = 0; i < 200 && (await series())['shop/carol|developer'] === undefined; i++) await new Promise((r) => setTimeout(r, 5));
    expect(await series()).toEqual({ '|app': 3, 'shop/alice|fallback': 2, 'shop/bob|rejected': 1, 'shop/carol|developer': 1 });
    const durations = (await h.sidecar.metrics.duration.get()).values.filter((v) => v.metricName?.endsWith('_count'));
    expect(Object.fromEntries(durations.map((v) => [v.labels.result, v.value]))).toEqual({ app: 3, fallback: 2, rejected: 1, developer: 1 });
    const active = (await h.sidecar.metrics.activeStreams.get()).values;
    expect(active).toEqual([expect.objectContaining({ labels: { intercept: 'shop/carol' }, value: 0 })]);
  });
});
