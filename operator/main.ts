// The operator's entrypoint: the only file that reads process.env. Builds the logger, metrics
// registry and kube client configuration, starts the operator and stops it gracefully on
// SIGTERM/SIGINT (releasing the leader lease so a standby takes over at once).
//
//   KUBECONFIG                    optional; in a pod the in-cluster configuration is used
//   POD_NAME                      leader-election identity (default: hostname + random suffix)
//   POD_NAMESPACE                 namespace of the Lease (default detour-system)
//   DETOUR_LEASE_NAME             default detour-operator
//   DETOUR_LEASE_DURATION_SECONDS default 15 (a standby takes over a crashed leader's lease after this)
//   DETOUR_RENEW_DEADLINE_SECONDS default 10 (the leader steps down when it could not renew for this)
//   DETOUR_RETRY_PERIOD_SECONDS   default 2 (how often the lease is tried or renewed)
//   DETOUR_CONTROL_PORT           default 8081 (control channel, ws path /control)
//   DETOUR_HEALTH_PORT            default 8082 (/healthz, /readyz)
//   DETOUR_METRICS_PORT           default 8080 (/metrics)
//   DETOUR_WORKERS                default 4
//   DETOUR_RESYNC_SECONDS         default 600
//   DETOUR_LOG_LEVEL              default info
//   DETOUR_CERT_MANAGER           self (default: keep the webhook's certificates while leading) |
//                                 cert-manager (cert-manager does; the operator leaves them alone)
//   DETOUR_WEBHOOK_SECRET         serving Secret the webhook mounts (default detour-webhook-tls)
//   DETOUR_WEBHOOK_CONFIG_NAME    MutatingWebhookConfiguration whose caBundle is kept (default detour)
//   DETOUR_WEBHOOK_SERVICE        the webhook's Service, named in the certificate (default detour-webhook)
//   DETOUR_CONTROL_TLS            true: serve the control channel over TLS (wss) with the serving Secret
//                                 DETOUR_WEBHOOK_SECRET (default false: plain ws, for development)
//   DETOUR_OPERATOR_SERVICE       the operator's Service, also named in the certificate (default detour-operator)

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import type { LevelWithSilent } from 'pino';
import { buildLogger } from '../core/logging.js';
import { buildRegistry } from '../core/metrics.js';
import { OPERATOR_CONTROL_PORT, OPERATOR_HEALTH_PORT, OPERATOR_METRICS_PORT } from '../core/constants.js';
import { startOperator } from './operator.js';
import { servingDnsNames } from '../core/tls/certificate-manager.js';

const env = process.env;
const logger = buildLogger({ name: 'detour-operator', level: (env.DETOUR_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info' });
const num = (v: string | undefined, d: number) => (v && Number.isFinite(Number(v)) ? Number(v) : d);

async function main(): Promise<void> {
  const certManager = env.DETOUR_CERT_MANAGER ?? 'self';
  if (certManager !== 'self' && certManager !== 'cert-manager') throw new Error(`DETOUR_CERT_MANAGER must be self or cert-manager, got "${certManager}"`);
  const namespace = env.POD_NAMESPACE ?? 'detour-system';
  const controlTls = env.DETOUR_CONTROL_TLS ?? 'false';
  if (controlTls !== 'true' && controlTls !== 'false') throw new Error(`DETOUR_CONTROL_TLS must be true or false, got "${controlTls}"`);
  const webhookSecret = env.DETOUR_WEBHOOK_SECRET ?? 'detour-webhook-tls';
  const operatorService = env.DETOUR_OPERATOR_SERVICE ?? 'detour-operator';
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const operator = await startOperator({
    kubeConfig: kc,
    logger,
    registry: buildRegistry(),
    identity: env.POD_NAME ?? `${hostname()}-${randomBytes(3).toString('hex')}`,
    leaseNamespace: namespace,
    leaseName: env.DETOUR_LEASE_NAME,
    controlPort: num(env.DETOUR_CONTROL_PORT, OPERATOR_CONTROL_PORT),
    healthPort: num(env.DETOUR_HEALTH_PORT, OPERATOR_HEALTH_PORT),
    metricsPort: num(env.DETOUR_METRICS_PORT, OPERATOR_METRICS_PORT),
    workers: num(env.DETOUR_WORKERS, 4),
    resyncMs: num(env.DETOUR_RESYNC_SECONDS, 600) * 1000,
    leaseDurationMs: num(env.DETOUR_LEASE_DURATION_SECONDS, 15) * 1000,
    renewDeadlineMs: num(env.DETOUR_RENEW_DEADLINE_SECONDS, 10) * 1000,
    retryPeriodMs: num(env.DETOUR_RETRY_PERIOD_SECONDS, 2) * 1000,
    webhookCertificates: certManager === 'cert-manager' ? undefined : {
      namespace,
      secretName: webhookSecret,
      webhookConfigName: env.DETOUR_WEBHOOK_CONFIG_NAME ?? 'detour',
      serviceName: env.DETOUR_WEBHOOK_SERVICE ?? 'detour-webhook',
      extraDnsNames: servingDnsNames(operatorService, namespace),
    },
    controlTls: controlTls === 'true' ? { namespace, secretName: webhookSecret } : undefined,
  });
  logger.info({ controlPort: operator.controlPort, healthPort: operator.healthPort, metricsPort: operator.metricsPort, certificates: certManager }, 'Started operator');
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'Shutting down');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    operator.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'Failed to start operator');
  process.exit(1);
});
