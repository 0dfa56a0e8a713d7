// The webhook certificates controller: one key, reconciled on the runtime's queue while leading.
// Each pass is the certificate manager's gather → planCertificateRotation → act
// (core/tls/certificate-manager.ts, in manual mode: it schedules nothing itself); when to look
// again is `planCertificateRequeue` (pure). Errors back off per key from 1 s up to the resync period.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../core/logging.js';
import type { KeyPairPem } from '../../core/tls/certificates.js';
import { startCertificateManager, type ReconcileOutcome } from '../../core/tls/certificate-manager.js';
import { DEFAULT_ROTATION_POLICY } from '../../core/tls/rotation.js';
import { Controller } from '../runtime/controller.js';
import { workqueueHooks, type RuntimeMetrics } from '../runtime/metrics.js';
import { WorkQueue } from '../runtime/workqueue.js';

export const CERTIFICATES_CONTROLLER = 'webhook-certificates';
const KEY = 'webhook-certificates';

export interface WebhookCertificateOptions {
  /** Namespace of the webhook's Secrets (the operator's own namespace in the chart). */
  namespace: string;
  /** The serving Secret the webhook mounts; the CA lives in `<secretName>-ca`. */
  secretName: string;
  webhookConfigName: string;
  serviceName: string;
  /** More DNS names for the serving certificate: the operator's Service, for the control channel. */
  extraDnsNames?: string[];
}

/** How long until the next pass, after `outcome` at `now`. */
export function planCertificateRequeue(outcome: Pick<ReconcileOutcome, 'plan' | 'requeue'>, now: Date, o: { caPropagationMs: number; resyncMs: number }): number {
  if (outcome.requeue) return outcome.plan.serving.action === 'wait' ? o.caPropagationMs : 1000;
  return Math.min(Math.max(outcome.plan.nextCheckAt.getTime() - now.getTime(), 1000), o.resyncMs);
}

export interface CertificateControllerDeps {
  kubeConfig: KubeConfig;
  certificates: WebhookCertificateOptions;
  logger: Logger;
  now: () => Date;
  /** Called with the serving certificate whenever it changes (the leader serves the control channel with it at once). */
  onServingCertificate?: (pair: KeyPairPem) => void;
  metrics?: RuntimeMetrics;
  /** Longest time between two passes (heals outside changes); default 5 minutes. */
  resyncMs?: number;
}

export function buildCertificateController(d: CertificateControllerDeps): Controller {
  const c = d.certificates;
  const resyncMs = d.resyncMs ?? 5 * 60_000;
  const manager = startCertificateManager({
    kube: d.kubeConfig, namespace: c.namespace, secretName: c.secretName, webhookConfigName: c.webhookConfigName,
    serviceName: c.serviceName, extraDnsNames: c.extraDnsNames, clock: { now: d.now }, logger: d.logger,
    onServingCertificate: d.onServingCertificate, manual: true,
  });
  return new Controller({
    name: CERTIFICATES_CONTROLLER,
    queue: new WorkQueue({ rateLimit: { baseDelayMs: 1000, maxDelayMs: resyncMs }, hooks: workqueueHooks(d.metrics, CERTIFICATES_CONTROLLER) }),
    reconciler: {
      async reconcile() {
        const outcome = await manager.reconcile();
        return { requeueAfterMs: planCertificateRequeue(outcome, d.now(), { caPropagationMs: DEFAULT_ROTATION_POLICY.caPropagationMs, resyncMs }) };
      },
    },
    sources: [],
    initialKeys: () => [KEY],
    // No watch event ever re-queues this key: every error is retried (with backoff), none is terminal.
    classify: () => 'retry',
    logger: d.logger,
    metrics: d.metrics,
    keyField: 'certificates',
  });
}
