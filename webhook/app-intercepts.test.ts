import { describe, expect, it } from '@jest/globals';
import { buildLogger } from '../core/logging.js';
import { buildRegistry } from '../core/metrics.js';
import { buildApp, INTERCEPTS_PATH } from './app.js';
import { buildInjectionConfig } from './config.js';
import type { PolicyContext } from './intercept-admission.js';
import { buildWebhookMetrics } from './metrics.js';

const logger = buildLogger({ name: 'test', level: 'silent' });

function app(policyContext?: (ns: string) => Promise<PolicyContext>) {
  return buildApp({ config: buildInjectionConfig({ sidecarImage: 'detour:test' }), logger, metrics: buildWebhookMetrics(buildRegistry(false)), ...(policyContext ? { policyContext } : {}) });
}

const body = (mode = 'Steal') => ({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: {
    uid: 'u-1', kind: { group: 'detour.dev', version: 'v1alpha1', kind: 'Intercept' }, resource: { group: 'detour.dev', version: 'v1alpha1', resource: 'intercepts' },
    namespace: 'shop', name: 'a', operation: 'CREATE', userInfo: { username: 'alice', groups: ['developers'] },
    object: { apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept', metadata: { name: 'a', namespace: 'shop' }, spec: { workload: { kind: 'Deployment', name: 'checkout' }, mode, match: { headers: [{ name: 'x', exact: 'y' }] } } },
  },
});

const post = async (a: ReturnType<typeof app>, payload: unknown) => {
  const r = await a.inject({ method: 'POST', url: INTERCEPTS_PATH, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
  return { status: r.statusCode, json: r.json() as { response: { uid: string; allowed: boolean; status?: { code: number; message: string } } } };
};

describe(`POST ${INTERCEPTS_PATH}`, () => {
  const strict: PolicyContext = { policies: [{ kind: 'ClusterInterceptPolicy', metadata: { name: 'steal-only' }, spec: { subjects: { groups: ['developers'] }, modes: ['Steal'] } }] };

  it('allows what the policies allow and refuses the rest with the policy and rule named', async () => {
    const a = app(async (ns) => { expect(ns).toBe('shop'); return strict; });
    expect((await post(a, body())).json.response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
    const denied = (await post(a, body('Mirror'))).json.response;
    expect(denied).toMatchObject({ uid: 'u-1', allowed: false, status: { code: 403 } });
    expect(denied.status!.message).toMatch(/^Intercept shop\/a: denied by ClusterInterceptPolicy steal-only \(rule modes\)/);
  });

  it('fails closed when the policies cannot be read, or the webhook has no API access', async () => {
    const broken = app(async () => { throw Object.assign(new Error('boom'), { code: 500 }); });
    expect((await post(broken, body())).json.response).toMatchObject({ allowed: false, status: { code: 503, message: expect.stringMatching(/could not read InterceptPolicies \(HTTP 500\)/) } });
    expect((await post(app(), body())).json.response).toMatchObject({ allowed: false, status: { message: expect.stringMatching(/no API access/) } });
  });

  it('answers 400 to what is not an AdmissionReview', async () => {
    expect((await post(app(async () => strict), { kind: 'Pod' })).status).toBe(400);
  });
});
