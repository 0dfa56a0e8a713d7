import { describe, expect, it } from '@jest/globals';
import { applyJsonPatch } from '../core/json-patch.js';
import { CREATOR_ANNOTATION, formatCreator } from '../core/policy/creator.js';
import type { PolicyObject } from '../core/policy/types.js';
import { ADMITTED_BY_ANNOTATION, planInterceptAdmission, type InterceptAdmissionRequest, type PolicyContext } from './intercept-admission.js';

const alice = { username: 'alice', groups: ['developers'] };
const stamp = formatCreator(alice);

function intercept(over: { annotations?: Record<string, string>; spec?: Record<string, unknown>; deleting?: boolean } = {}) {
  return {
    apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept',
    metadata: { name: 'alice-checkout', namespace: 'shop', ...(over.annotations ? { annotations: over.annotations } : {}), ...(over.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: { headers: [{ name: 'x-detour-user', exact: 'alice' }] }, ...over.spec },
  };
}

function req(operation: string, object: unknown, oldObject?: unknown, userInfo: Record<string, unknown> = alice): InterceptAdmissionRequest {
  return {
    uid: 'u1', kind: { group: 'detour.dev', version: 'v1alpha1', kind: 'Intercept' }, resource: { group: 'detour.dev', version: 'v1alpha1', resource: 'intercepts' },
    namespace: 'shop', name: 'alice-checkout', operation, object, ...(oldObject ? { oldObject } : {}), userInfo,
  };
}

const none: PolicyContext = { policies: [] };
const policy = (spec: Partial<PolicyObject['spec']>): PolicyContext => ({ policies: [{ kind: 'InterceptPolicy', metadata: { name: 'devs', namespace: 'shop' }, spec: { subjects: { groups: ['developers'] }, ...spec } }] });

type Admitted = { metadata: { annotations?: Record<string, string> }; spec: Record<string, unknown> };
function patched(object: unknown, response: { patch?: string }): Admitted {
  const ops = response.patch ? JSON.parse(Buffer.from(response.patch, 'base64').toString()) : [];
  return applyJsonPatch(structuredClone(object), ops) as Admitted;
}

describe('planInterceptAdmission', () => {
  it('CREATE: records the creator from userInfo, overwriting a forged stamp, and defaults the owner', () => {
    const forged = intercept({ annotations: { [CREATOR_ANNOTATION]: formatCreator({ username: 'bob', groups: ['admins'] }), other: 'kept' } });
    const d = planInterceptAdmission(req('CREATE', forged), none);
    expect(d.response.allowed).toBe(true);
    const out = patched(forged, d.response);
    expect(out.metadata.annotations).toEqual({ [CREATOR_ANNOTATION]: stamp, [ADMITTED_BY_ANNOTATION]: '', other: 'kept' });
    expect(out.spec.owner).toBe('alice');
  });

  it('CREATE: keeps a given owner; adds the annotations map when there is none', () => {
    const o = intercept({ spec: { owner: 'team-a' } });
    const out = patched(o, planInterceptAdmission(req('CREATE', o), none).response);
    expect(out.metadata.annotations).toEqual({ [CREATOR_ANNOTATION]: stamp, [ADMITTED_BY_ANNOTATION]: '' });
    expect(out.spec.owner).toBe('team-a');
  });

  it('CREATE without a username is refused', () => {
    expect(planInterceptAdmission(req('CREATE', intercept(), undefined, {}), none).response.allowed).toBe(false);
  });

  it.each([
    ['unchanged', stamp, stamp, true],
    ['changed', stamp, formatCreator({ username: 'bob', groups: [] }), false],
    ['added where none was recorded', undefined, stamp, false],
  ])('UPDATE with the stamp %s: allowed=%s', (_n, before, after, allowed) => {
    const d = planInterceptAdmission(req('UPDATE', intercept({ annotations: after ? { [CREATOR_ANNOTATION]: after } : {} }), intercept({ annotations: before ? { [CREATOR_ANNOTATION]: before } : {} })), none);
    expect(d.response.allowed).toBe(allowed);
    if (!allowed) expect(d.response.status?.message).toMatch(/the annotation detour\.dev\/creator is recorded by admission .* cannot be/);
  });

  it('UPDATE that drops the stamp (server-side apply of a manifest without it) gets it back', () => {
    const now = intercept();
    const d = planInterceptAdmission(req('UPDATE', now, intercept({ annotations: { [CREATOR_ANNOTATION]: stamp } }), { username: 'system:serviceaccount:gitops:argo', groups: [] }), none);
    expect(d.response.allowed).toBe(true);
    expect(patched(now, d.response).metadata.annotations).toEqual({ [CREATOR_ANNOTATION]: stamp });
  });

  it('CREATE refused by a policy names the Intercept, the policy and the rule', () => {
    const d = planInterceptAdmission(req('CREATE', intercept({ spec: { mode: 'Mirror' } })), policy({ modes: ['Steal'] }));
    expect(d.response).toMatchObject({ allowed: false, status: { code: 403, reason: 'Forbidden' } });
    expect(d.response.status!.message).toBe('Intercept shop/alice-checkout: denied by InterceptPolicy shop/devs (rule modes): mode Mirror is not allowed (allowed: Steal)');
  });

  it('CREATE gives the policy default ttl, which then satisfies maxTtl', () => {
    const o = intercept();
    const d = planInterceptAdmission(req('CREATE', o), policy({ maxTtl: '8h', defaultTtl: '2h' }));
    expect(d.response.allowed).toBe(true);
    const out = patched(o, d.response);
    expect(out.spec.ttl).toBe('2h');
    expect(out.metadata.annotations?.[ADMITTED_BY_ANNOTATION]).toBe('InterceptPolicy shop/devs');
    expect(d.policy).toBe('InterceptPolicy shop/devs');
  });

  it('UPDATE is judged by the policies against the recorded creator, not the updater, when the spec changes', () => {
    const old = intercept({ annotations: { [CREATOR_ANNOTATION]: stamp } });
    const changed = intercept({ annotations: { [CREATOR_ANNOTATION]: stamp }, spec: { match: { headers: [{ name: 'x-detour-user', exact: 'bob' }] } } });
    const ctx = policy({ requiredHeaders: [{ name: 'x-detour-user', valueEqualsCreator: true }] });
    const d = planInterceptAdmission(req('UPDATE', changed, old, { username: 'bob', groups: ['developers'] }), ctx);
    expect(d.response.status?.message).toMatch(/rule requiredHeaders\[0\].*"alice"/);
    // Metadata-only writes (finalizers) and deletions are not judged again.
    expect(planInterceptAdmission(req('UPDATE', old, old), policy({ modes: [] })).response.allowed).toBe(true);
    expect(planInterceptAdmission(req('UPDATE', intercept({ annotations: { [CREATOR_ANNOTATION]: stamp }, spec: { mode: 'Mirror' }, deleting: true }), old), policy({ modes: [] })).response.allowed).toBe(true);
  });

  it('ignores other kinds and operations', () => {
    const r = { ...req('DELETE', intercept()) };
    expect(planInterceptAdmission(r, none)).toMatchObject({ result: 'ignored', response: { allowed: true } });
  });
});
