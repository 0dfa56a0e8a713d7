import { describe, expect, it } from '@jest/globals';
import { buildCertificateAuthority, buildLeafCertificate } from './certificates.js';
import { DEFAULT_ROTATION_POLICY, planCaBundle, planCertificateRotation, type RotationInput } from './rotation.js';

const t0 = new Date('2026-03-01T00:00:00Z');
const hours = (h: number) => new Date(t0.getTime() + h * 3600_000);
const dnsNames = ['detour-webhook.detour-system.svc'];
const ca = buildCertificateAuthority({ commonName: 'ca', now: t0, validityDays: 30 });
const otherCa = buildCertificateAuthority({ commonName: 'other', now: t0, validityDays: 30 });
const serving = buildLeafCertificate({ ca, commonName: 'w', dnsNames, ipAddresses: ['127.0.0.1'], now: t0, validityHours: 24 });
const policy = { ...DEFAULT_ROTATION_POLICY, caValidityDays: 30 };
const bundle = planCaBundle(ca.certPem, undefined, t0);

function input(over: Partial<RotationInput>): RotationInput {
  return { now: hours(1), ca, serving, liveBundles: [bundle], dnsNames, ipAddresses: ['127.0.0.1'], policy, ...over };
}

describe('planCertificateRotation', () => {
  const cases: { name: string; input: RotationInput; ca: string; serving: string; reason?: RegExp }[] = [
    { name: 'fresh cluster: nothing stored', input: input({ ca: undefined, serving: undefined, liveBundles: [''] }), ca: 'create', serving: 'issue' },
    { name: 'healthy, 1 h into a 24 h certificate', input: input({}), ca: 'keep', serving: 'keep' },
    { name: 'serving certificate 2/3 through its life', input: input({ now: hours(16.1) }), ca: 'keep', serving: 'issue', reason: /due/ },
    { name: 'serving certificate expired', input: input({ now: hours(25) }), ca: 'keep', serving: 'issue', reason: /expired/ },
    { name: 'serving certificate lacks a required name', input: input({ dnsNames: ['detour-webhook.other.svc'] }), ca: 'keep', serving: 'issue', reason: /does not name/ },
    { name: 'serving certificate lacks the required IP', input: input({ ipAddresses: ['10.0.0.1'] }), ca: 'keep', serving: 'issue', reason: /10.0.0.1/ },
    { name: 'serving key swapped for another', input: input({ serving: { certPem: serving.certPem, keyPem: otherCa.keyPem } }), ca: 'keep', serving: 'issue', reason: /key/ },
    { name: 'CA replaced in the Secret: the old serving certificate is still trusted by the live bundle → wait', input: input({ ca: otherCa }), ca: 'keep', serving: 'wait' },
    { name: 'CA replaced and the bundle already trusts it', input: input({ ca: otherCa, liveBundles: [planCaBundle(otherCa.certPem, undefined, t0)] }), ca: 'keep', serving: 'issue', reason: /not signed by the current CA/ },
    { name: 'CA 2/3 through its life: renew it, keep serving until the bundle trusts the new one', input: input({ now: hours(24 * 20.5), serving: buildLeafCertificate({ ca, commonName: 'w', dnsNames, ipAddresses: ['127.0.0.1'], now: hours(24 * 20.4), validityHours: 24 }) }), ca: 'renew', serving: 'wait' },
    { name: 'CA key does not match', input: input({ ca: { certPem: ca.certPem, keyPem: otherCa.keyPem } }), ca: 'create', serving: 'wait' },
    { name: 'no webhook configuration to patch: nothing to wait for', input: input({ ca: otherCa, liveBundles: undefined }), ca: 'keep', serving: 'issue' },
  ];
  it.each(cases)('$name → CA $ca, serving $serving', ({ input: i, ca: caAction, serving: servingAction, reason }) => {
    const plan = planCertificateRotation(i);
    expect(plan.ca.action).toBe(caAction);
    expect(plan.serving.action).toBe(servingAction);
    if (reason) expect(plan.serving.action !== 'keep' && plan.serving.reason).toMatch(reason);
    expect(plan.nextCheckAt.getTime()).toBeGreaterThanOrEqual(i.now.getTime());
  });

  it('looks again when the serving certificate becomes due, not before', () => {
    const plan = planCertificateRotation(input({}));
    const due = planCertificateRotation(input({ now: plan.nextCheckAt }));
    expect(due.serving.action).toBe('issue');
    const justBefore = planCertificateRotation(input({ now: new Date(plan.nextCheckAt.getTime() - 60_000) }));
    expect(justBefore.serving.action).toBe('keep');
  });

  it('keeps the previous CA in the bundle until it expires, then drops it', () => {
    const twoCas = planCaBundle(otherCa.certPem, ca.certPem, hours(1));
    expect(twoCas.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(planCaBundle(otherCa.certPem, ca.certPem, hours(24 * 31)).match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    expect(planCertificateRotation(input({ ca: otherCa, previousCaCertPem: ca.certPem, now: hours(24 * 31), liveBundles: undefined })).dropPreviousCa).toBe(true);
  });
});
