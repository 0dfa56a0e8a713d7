// Keeps the webhook's certificates: a CA in one Secret, a short-lived serving certificate in
// another (kubernetes.io/tls: tls.crt, tls.key, ca.crt — the shape cert-manager writes, so the
// webhook reads the same files whoever manages them), and the caBundle of the
// MutatingWebhookConfiguration. Gather → planCertificateRotation → act, level-based; any number
// of replicas may run it: writes carry resourceVersions and the loser of a race adopts the winner's.

import type { KubeConfig } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../constants.js';
import { describeApiError, statusCodeOf } from '../errors.js';
import type { Logger } from '../logging.js';
import { buildCertificateAuthority, buildLeafCertificate, type KeyPairPem } from './certificates.js';
import { buildKubeCertificateStore, type CertificateStore, type StoredSecret } from './certificate-store.js';
import { bundleFingerprints, DEFAULT_ROTATION_POLICY, planCaBundle, planCertificateRotation, type RotationPlan, type RotationPolicy } from './rotation.js';

export interface Clock {
  now(): Date;
}

export const CA_CERT_KEY = 'tls.crt';
export const CA_KEY_KEY = 'tls.key';
export const PREVIOUS_CA_CERT_KEY = 'previous.crt';
export const SERVING_CERT_KEY = 'tls.crt';
export const SERVING_KEY_KEY = 'tls.key';
export const SERVING_CA_KEY = 'ca.crt';
const MANAGED_LABELS = { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, 'app.kubernetes.io/component': 'webhook-certificates' };

export interface CertificateManagerOptions {
  /** Used to build the store when `store` is not given. */
  kube?: KubeConfig;
  store?: CertificateStore;
  namespace: string;
  /** Secret (kubernetes.io/tls) holding the serving certificate, mounted by the webhook. */
  secretName: string;
  /** Secret holding the CA key; default `<secretName>-ca`. Only the manager reads it. */
  caSecretName?: string;
  /** The MutatingWebhookConfiguration whose caBundle is kept. */
  webhookConfigName: string;
  /** The webhook's Service; the certificate names `<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`, `<svc>.<ns>.svc.cluster.local`. */
  serviceName: string;
  extraDnsNames?: string[];
  /** IP SANs, for webhooks registered by URL (tests: 127.0.0.1). */
  ipAddresses?: string[];
  clock: Clock;
  logger: Logger;
  policy?: Partial<RotationPolicy>;
  /** Called with the serving certificate in the Secret whenever it changes (also the first time). */
  onServingCertificate?: (pair: KeyPairPem) => void;
  /** Longest sleep between two reconciles (heals outside changes); default 5 minutes. */
  resyncMs?: number;
  /** Don't schedule reconciles; the caller calls `reconcile()` (tests). */
  manual?: boolean;
}

export interface ReconcileOutcome {
  plan: RotationPlan;
  /** What was written this time. */
  wrote: { ca: boolean; serving: boolean; caBundle: boolean };
  serving: KeyPairPem | undefined;
  /** Whether a write lost a race and the next reconcile should come soon. */
  requeue: boolean;
}

export interface CertificateManager {
  /** One gather → decide → act pass. Serialized: concurrent calls run one after another. */
  reconcile(): Promise<ReconcileOutcome>;
  /** The serving certificate currently in the Secret, once read. */
  current(): KeyPairPem | undefined;
  /** Resolves with the first serving certificate. */
  ready: Promise<KeyPairPem>;
  stop(): void;
}

export function servingDnsNames(serviceName: string, namespace: string, extra: string[] = []): string[] {
  return [serviceName, `${serviceName}.${namespace}`, `${serviceName}.${namespace}.svc`, `${serviceName}.${namespace}.svc.cluster.local`, ...extra];
}

function fingerprint(pair: KeyPairPem): string {
  return createHash('sha256').update(pair.certPem).update('\0').update(pair.keyPem).digest('hex');
}

function pairOf(secret: StoredSecret | undefined, certKey: string, keyKey: string): KeyPairPem | undefined {
  const certPem = secret?.data[certKey];
  const keyPem = secret?.data[keyKey];
  return certPem && keyPem ? { certPem, keyPem } : undefined;
}

/** Writes the CA Secret if the plan says so; returns the CA to sign with and the previous one. */
export async function ensureCertificateAuthority(store: CertificateStore, o: { namespace: string; name: string; now: Date; plan: RotationPlan; secret: StoredSecret | undefined; validityDays: number; logger: Logger }): Promise<{ ca: KeyPairPem; previousCaCertPem: string | undefined; wrote: boolean }> {
  const current = pairOf(o.secret, CA_CERT_KEY, CA_KEY_KEY);
  let previous = o.secret?.data[PREVIOUS_CA_CERT_KEY];
  if (o.plan.ca.action === 'keep' && current) {
    if (o.plan.dropPreviousCa && previous !== undefined) {
      await store.writeSecret({ namespace: o.namespace, name: o.name, type: 'Opaque', labels: MANAGED_LABELS, data: { [CA_CERT_KEY]: current.certPem, [CA_KEY_KEY]: current.keyPem }, resourceVersion: o.secret!.resourceVersion });
      o.logger.info({ object: `${o.namespace}/${o.name}` }, `Dropped expired previous CA from secret ${o.namespace}/${o.name}`);
      return { ca: current, previousCaCertPem: undefined, wrote: true };
    }
    return { ca: current, previousCaCertPem: previous, wrote: false };
  }
  const ca = buildCertificateAuthority({ commonName: `detour-webhook-ca-${Math.floor(o.now.getTime() / 1000)}` /* PrintableString: no @ or _ (Go refuses them) */, now: o.now, validityDays: o.validityDays });
  previous = o.plan.ca.action === 'renew' && current ? current.certPem : undefined;
  await store.writeSecret({
    namespace: o.namespace, name: o.name, type: 'Opaque', labels: MANAGED_LABELS,
    data: { [CA_CERT_KEY]: ca.certPem, [CA_KEY_KEY]: ca.keyPem, ...(previous ? { [PREVIOUS_CA_CERT_KEY]: previous } : {}) },
    ...(o.secret ? { resourceVersion: o.secret.resourceVersion } : {}),
  });
  o.logger.info({ object: `${o.namespace}/${o.name}`, reason: o.plan.ca.action === 'keep' ? '' : o.plan.ca.reason }, `Created webhook CA in secret ${o.namespace}/${o.name}`);
  return { ca, previousCaCertPem: previous, wrote: true };
}

/** Patches the webhook configuration's caBundle when it differs from `bundlePem`; false when it was right already or the configuration does not exist. */
export async function ensureCaBundle(store: CertificateStore, o: { webhookConfigName: string; bundlePem: string; liveBundles: string[] | undefined; logger: Logger }): Promise<boolean> {
  if (o.liveBundles === undefined) return false;
  const want = [...bundleFingerprints(o.bundlePem)].sort().join(',');
  if (o.liveBundles.every((b) => [...bundleFingerprints(b)].sort().join(',') === want)) return false;
  await store.patchCaBundles(o.webhookConfigName, o.bundlePem, o.liveBundles.length);
  o.logger.info({ webhookConfiguration: o.webhookConfigName }, `Patched caBundle of mutatingwebhookconfiguration ${o.webhookConfigName}`);
  return true;
}

/** Issues and stores a serving certificate when the plan says so; returns what the Secret now holds. */
export async function ensureServingCertificate(store: CertificateStore, o: { namespace: string; name: string; now: Date; plan: RotationPlan; secret: StoredSecret | undefined; ca: KeyPairPem; bundlePem: string; dnsNames: string[]; ipAddresses: string[]; validityHours: number; logger: Logger }): Promise<{ serving: KeyPairPem | undefined; wrote: boolean }> {
  const existing = pairOf(o.secret, SERVING_CERT_KEY, SERVING_KEY_KEY);
  if (o.plan.serving.action !== 'issue') {
    // Keep ca.crt in step with the bundle (clients that verify the webhook read it).
    if (existing && o.secret && o.secret.data[SERVING_CA_KEY] !== o.bundlePem && o.plan.serving.action === 'keep') {
      await store.writeSecret({ namespace: o.namespace, name: o.name, type: 'kubernetes.io/tls', labels: MANAGED_LABELS, data: { [SERVING_CERT_KEY]: existing.certPem, [SERVING_KEY_KEY]: existing.keyPem, [SERVING_CA_KEY]: o.bundlePem }, resourceVersion: o.secret.resourceVersion });
      return { serving: existing, wrote: true };
    }
    return { serving: existing, wrote: false };
  }
  const leaf = buildLeafCertificate({ ca: o.ca, commonName: o.dnsNames[0] ?? 'detour-webhook', dnsNames: o.dnsNames, ipAddresses: o.ipAddresses, now: o.now, validityHours: o.validityHours, usage: 'server' });
  await store.writeSecret({
    namespace: o.namespace, name: o.name, type: 'kubernetes.io/tls', labels: MANAGED_LABELS,
    data: { [SERVING_CERT_KEY]: leaf.certPem, [SERVING_KEY_KEY]: leaf.keyPem, [SERVING_CA_KEY]: o.bundlePem },
    ...(o.secret ? { resourceVersion: o.secret.resourceVersion } : {}),
  });
  o.logger.info({ object: `${o.namespace}/${o.name}`, reason: o.plan.serving.reason }, `Issued webhook serving certificate into secret ${o.namespace}/${o.name}`);
  return { serving: leaf, wrote: true };
}

export function startCertificateManager(options: CertificateManagerOptions): CertificateManager {
  const store = options.store ?? (options.kube ? buildKubeCertificateStore(options.kube) : undefined);
  if (!store) throw new Error('startCertificateManager needs kube or store');
  const policy: RotationPolicy = { ...DEFAULT_ROTATION_POLICY, ...options.policy };
  const { namespace, secretName, logger, clock } = options;
  const caSecretName = options.caSecretName ?? `${secretName}-ca`;
  const dnsNames = servingDnsNames(options.serviceName, namespace, options.extraDnsNames);
  const ipAddresses = options.ipAddresses ?? [];
  const resyncMs = options.resyncMs ?? 5 * 60_000;

  let current: KeyPairPem | undefined;
  let currentPrint: string | undefined;
  let resolveReady!: (pair: KeyPairPem) => void;
  const ready = new Promise<KeyPairPem>((r) => { resolveReady = r; });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let chain: Promise<unknown> = Promise.resolve();

  const publish = (pair: KeyPairPem | undefined) => {
    if (!pair) return;
    const print = fingerprint(pair);
    if (print === currentPrint) return;
    current = pair;
    currentPrint = print;
    resolveReady(pair);
    try { options.onServingCertificate?.(pair); } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'Failed to apply serving certificate');
    }
  };

  const once = async (): Promise<ReconcileOutcome> => {
    const now = clock.now();
    // Gather.
    const [caSecret, servingSecret, liveBundles] = await Promise.all([
      store.readSecret(namespace, caSecretName),
      store.readSecret(namespace, secretName),
      store.readCaBundles(options.webhookConfigName),
    ]);
    const ca = pairOf(caSecret, CA_CERT_KEY, CA_KEY_KEY);
    const serving = pairOf(servingSecret, SERVING_CERT_KEY, SERVING_KEY_KEY);
    // Decide.
    const plan = planCertificateRotation({ now, ca, previousCaCertPem: caSecret?.data[PREVIOUS_CA_CERT_KEY], serving, liveBundles, dnsNames, ipAddresses, policy });
    const wrote = { ca: false, serving: false, caBundle: false };
    // Act, in the order that never leaves the API server distrusting what the webhook serves:
    // CA first, then the bundle, then (if the bundle already trusted the CA) the serving certificate.
    try {
      const caResult = await ensureCertificateAuthority(store, { namespace, name: caSecretName, now, plan, secret: caSecret, validityDays: policy.caValidityDays, logger });
      wrote.ca = caResult.wrote;
      const bundlePem = planCaBundle(caResult.ca.certPem, caResult.previousCaCertPem, now);
      wrote.caBundle = await ensureCaBundle(store, { webhookConfigName: options.webhookConfigName, bundlePem, liveBundles, logger });
      const servingResult = await ensureServingCertificate(store, { namespace, name: secretName, now, plan, secret: servingSecret, ca: caResult.ca, bundlePem, dnsNames, ipAddresses, validityHours: policy.servingValidityHours, logger });
      wrote.serving = servingResult.wrote;
      publish(servingResult.serving);
      return { plan, wrote, serving: servingResult.serving, requeue: plan.serving.action === 'wait' };
    } catch (err) {
      if (statusCodeOf(err) === 409) {
        // Another replica wrote first: adopt what it wrote on the next pass.
        logger.info({ reason: 'Conflict' }, `Lost a write race on webhook certificates in namespace ${namespace}; retrying`);
        publish(serving);
        return { plan, wrote, serving, requeue: true };
      }
      throw err;
    }
  };

  const reconcile = (): Promise<ReconcileOutcome> => {
    const run = chain.then(once, once);
    chain = run.catch(() => undefined);
    return run;
  };

  const schedule = (delayMs: number) => {
    if (stopped || options.manual) return;
    timer = setTimeout(loop, Math.max(0, delayMs));
    timer.unref?.();
  };

  const loop = async () => {
    try {
      const outcome = await reconcile();
      failures = 0;
      const untilNext = outcome.plan.nextCheckAt.getTime() - clock.now().getTime();
      schedule(outcome.requeue ? (outcome.plan.serving.action === 'wait' ? policy.caPropagationMs : 1000) : Math.min(Math.max(untilNext, 1000), resyncMs));
    } catch (err) {
      failures++;
      const { code, reason } = describeApiError(err);
      logger.warn({ code, reason, failures }, `Failed to reconcile webhook certificates in namespace ${namespace}`);
      schedule(Math.min(1000 * 2 ** Math.min(failures - 1, 10), resyncMs));
    }
  };

  if (!options.manual) void loop();

  return {
    reconcile,
    current: () => current,
    ready,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
