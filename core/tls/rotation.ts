// The certificate rotation decision, cert-manager style: a pure function of what was gathered
// (the CA Secret, the serving Secret, the caBundle the webhook configuration trusts today) and the
// clock. The manager acts on it.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyPairPem } from './certificates.js';

export interface RotationPolicy {
  caValidityDays: number;
  servingValidityHours: number;
  /** Renew a certificate once this fraction of its lifetime has passed (2/3: a 24 h cert renews at 16 h). */
  renewFraction: number;
  /** How long a new CA sits in the caBundle before serving certificates are signed by it. */
  caPropagationMs: number;
}

export const DEFAULT_ROTATION_POLICY: RotationPolicy = {
  caValidityDays: 5 * 365,
  servingValidityHours: 24,
  renewFraction: 2 / 3,
  caPropagationMs: 10_000,
};

export interface RotationInput {
  now: Date;
  /** The signing CA, as stored. */
  ca?: KeyPairPem;
  /** The CA it replaced, kept trusted until it expires. */
  previousCaCertPem?: string;
  serving?: KeyPairPem;
  /** PEM bundles of the webhook configuration's webhooks now; undefined when the configuration does not exist. */
  liveBundles?: string[];
  dnsNames: string[];
  ipAddresses: string[];
  policy: RotationPolicy;
}

export type CaDecision = { action: 'keep' } | { action: 'create' | 'renew'; reason: string };
export type ServingDecision = { action: 'keep' } | { action: 'issue'; reason: string } | { action: 'wait'; reason: string };

export interface RotationPlan {
  ca: CaDecision;
  /** Drop the previous CA from the bundle (it expired). */
  dropPreviousCa: boolean;
  serving: ServingDecision;
  /** When to look again, at the latest. */
  nextCheckAt: Date;
}

interface Parsed {
  x509: X509Certificate;
  notBefore: Date;
  notAfter: Date;
  renewAt: Date;
}

function parse(pem: string | undefined, policy: RotationPolicy): Parsed | undefined {
  if (!pem) return undefined;
  try {
    const x509 = new X509Certificate(pem);
    const notBefore = new Date(x509.validFrom);
    const notAfter = new Date(x509.validTo);
    const renewAt = new Date(notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * policy.renewFraction);
    return { x509, notBefore, notAfter, renewAt };
  } catch {
    return undefined;
  }
}

function keyMatches(x509: X509Certificate, keyPem: string): boolean {
  try {
    return x509.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** The certificates of a PEM bundle (blocks that do not parse are not trusted). */
function bundleCertificates(bundlePem: string): X509Certificate[] {
  const blocks = bundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.flatMap((b) => { try { return [new X509Certificate(b)]; } catch { return []; } });
}

/** The certificates of a PEM bundle, by SHA-256 fingerprint. */
export function bundleFingerprints(bundlePem: string): Set<string> {
  return new Set(bundleCertificates(bundlePem).map((c) => c.fingerprint256));
}

/** The bundle the webhook configuration should trust: the signing CA, then the previous one while valid. */
export function planCaBundle(caCertPem: string, previousCaCertPem: string | undefined, now: Date): string {
  const parts = [caCertPem.trim()];
  if (previousCaCertPem) {
    try {
      const prev = new X509Certificate(previousCaCertPem);
      if (new Date(prev.validTo) > now && prev.fingerprint256 !== new X509Certificate(caCertPem).fingerprint256) parts.push(previousCaCertPem.trim());
    } catch { /* unparsable: dropped */ }
  }
  return parts.join('\n') + '\n';
}

function servingProblem(input: RotationInput, serving: Parsed | undefined, ca: Parsed | undefined): string | undefined {
  if (!input.serving || !serving) return 'no serving certificate';
  if (!keyMatches(serving.x509, input.serving.keyPem)) return 'serving key does not match its certificate';
  if (!ca || !serving.x509.verify(ca.x509.publicKey)) return 'serving certificate is not signed by the current CA';
  for (const dns of input.dnsNames) if (serving.x509.checkHost(dns, { wildcards: false }) === undefined) return `serving certificate does not name ${dns}`;
  for (const ip of input.ipAddresses) if (serving.x509.checkIP(ip) === undefined) return `serving certificate does not name ${ip}`;
  if (input.now >= serving.notAfter) return 'serving certificate expired';
  if (input.now >= serving.renewAt) return 'serving certificate is due for renewal';
  return undefined;
}

/** Whether the webhook configuration trusts the CA of `cert` in every webhook. */
function trusted(input: RotationInput, caFingerprint: string | undefined): boolean {
  if (input.liveBundles === undefined) return true; // nothing to patch: nobody to wait for
  if (!caFingerprint) return false;
  return input.liveBundles.length > 0 && input.liveBundles.every((b) => bundleFingerprints(b).has(caFingerprint));
}

/** Whether the API server would accept `cert` today: every webhook's bundle has a CA that signed it. */
function verifiedByLiveBundles(input: RotationInput, cert: X509Certificate, known: (Parsed | undefined)[]): boolean {
  const verifies = (ca: X509Certificate) => { try { return cert.verify(ca.publicKey); } catch { return false; } };
  if (input.liveBundles === undefined) return known.some((c) => c !== undefined && verifies(c.x509));
  return input.liveBundles.length > 0 && input.liveBundles.every((b) => bundleCertificates(b).some(verifies));
}

export function planCertificateRotation(input: RotationInput): RotationPlan {
  const { now, policy } = input;
  const ca = parse(input.ca?.certPem, policy);
  const previous = parse(input.previousCaCertPem, policy);
  const serving = parse(input.serving?.certPem, policy);

  let caDecision: CaDecision = { action: 'keep' };
  if (!input.ca || !ca) caDecision = { action: 'create', reason: input.ca ? 'CA certificate is unreadable' : 'no CA' };
  else if (!keyMatches(ca.x509, input.ca.keyPem)) caDecision = { action: 'create', reason: 'CA key does not match its certificate' };
  else if (now >= ca.notAfter) caDecision = { action: 'create', reason: 'CA expired' };
  else if (now >= ca.renewAt) caDecision = { action: 'renew', reason: 'CA is due for renewal' };

  const dropPreviousCa = previous !== undefined && now >= previous.notAfter;
  const checks: Date[] = [];

  let servingDecision: ServingDecision;
  // A serving certificate the API server accepts today, whatever CA signed it.
  const servingUsable = serving !== undefined && input.serving !== undefined && now < serving.notAfter
    && keyMatches(serving.x509, input.serving.keyPem)
    && verifiedByLiveBundles(input, serving.x509, [ca, previous]);

  if (caDecision.action !== 'keep') {
    // A new signing CA is not in the bundle yet: keep serving what works until it is.
    servingDecision = servingUsable ? { action: 'wait', reason: 'new CA is not in the caBundle yet' } : { action: 'issue', reason: 'CA replaced and no usable serving certificate' };
  } else {
    const problem = servingProblem(input, serving, ca);
    if (problem === undefined) servingDecision = { action: 'keep' };
    else if (servingUsable && !trusted(input, ca!.x509.fingerprint256)) servingDecision = { action: 'wait', reason: `${problem}; the CA is not in the caBundle yet` };
    else servingDecision = { action: 'issue', reason: problem };
  }

  if (servingDecision.action === 'wait') checks.push(new Date(now.getTime() + policy.caPropagationMs));
  if (caDecision.action === 'keep' && ca) checks.push(ca.renewAt);
  if (servingDecision.action === 'keep' && serving) checks.push(serving.renewAt);
  if (servingDecision.action === 'issue') {
    // The certificate about to be issued renews at this point of its life.
    checks.push(new Date(now.getTime() + policy.servingValidityHours * 3600_000 * policy.renewFraction));
  }
  if (previous && !dropPreviousCa) checks.push(previous.notAfter);
  const nextCheckAt = new Date(Math.max(now.getTime(), Math.min(...checks.map((d) => d.getTime()), now.getTime() + 24 * 3600_000)));
  return { ca: caDecision, dropPreviousCa, serving: servingDecision, nextCheckAt };
}
