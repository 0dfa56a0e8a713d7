// The operator's settings, read from an environment record (main.ts passes process.env) with
// core/env.ts: pure, every bad value reported at once. docs/operator.md lists them.

import { OPERATOR_CONTROL_PORT, OPERATOR_HEALTH_PORT, OPERATOR_METRICS_PORT } from '../core/constants.js';
import { readEnv, type Env } from '../core/env.js';
import { servingDnsNames } from '../core/tls/certificate-manager.js';
import type { OperatorOptions } from './operator.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface OperatorSettings {
  logLevel: LogLevel;
  /** POD_NAME; undefined: main.ts makes one up (hostname + random). */
  identity: string | undefined;
  certificateManager: 'self' | 'cert-manager';
  /** Everything startOperator takes but the kube config, logger, registry and identity. */
  options: Omit<OperatorOptions, 'kubeConfig' | 'logger' | 'registry' | 'identity'>;
}

export function readOperatorSettings(env: Env): OperatorSettings {
  const r = readEnv(env);
  const namespace = r.string('POD_NAMESPACE', 'detour-system');
  /** A duration in seconds, fractions allowed (tests run with 0.3 s), as milliseconds. */
  const seconds = (name: string, fallback: number, { allowZero = false } = {}) => {
    const v = r.optional(name);
    if (v === undefined) return fallback * 1000;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
      r.problem(`${name} must be a number of seconds${allowZero ? '' : ' above 0'}, got ${JSON.stringify(v)}`);
      return fallback * 1000;
    }
    return Math.round(n * 1000);
  };
  const certificateManager = r.oneOf('DETOUR_CERT_MANAGER', ['self', 'cert-manager'] as const, 'self');
  const webhookSecret = r.string('DETOUR_WEBHOOK_SECRET', 'detour-webhook-tls');
  if (r.optional('DETOUR_WEBHOOK_CONFIG_NAME') !== undefined) r.problem('DETOUR_WEBHOOK_CONFIG_NAME was renamed DETOUR_WEBHOOK_CONFIGURATION (the webhook\'s name for it)');
  const webhookConfigName = r.string('DETOUR_WEBHOOK_CONFIGURATION', 'detour');
  const webhookService = r.string('DETOUR_WEBHOOK_SERVICE', 'detour-webhook');
  const operatorService = r.string('DETOUR_OPERATOR_SERVICE', 'detour-operator');
  const controlTls = r.boolean('DETOUR_CONTROL_TLS', false);
  const leaseDurationMs = seconds('DETOUR_LEASE_DURATION_SECONDS', 15);
  const renewDeadlineMs = seconds('DETOUR_RENEW_DEADLINE_SECONDS', 10);
  const retryPeriodMs = seconds('DETOUR_RETRY_PERIOD_SECONDS', 2);
  // As client-go's leader election insists: retry < renew deadline < lease duration.
  if (renewDeadlineMs >= leaseDurationMs) r.problem('DETOUR_RENEW_DEADLINE_SECONDS must be less than DETOUR_LEASE_DURATION_SECONDS');
  if (retryPeriodMs >= renewDeadlineMs) r.problem('DETOUR_RETRY_PERIOD_SECONDS must be less than DETOUR_RENEW_DEADLINE_SECONDS');
  const settings: OperatorSettings = {
    logLevel: r.oneOf('DETOUR_LOG_LEVEL', LOG_LEVELS, 'info'),
    identity: r.optional('POD_NAME'),
    certificateManager,
    options: {
      leaseNamespace: namespace,
      leaseName: r.string('DETOUR_LEASE_NAME', 'detour-operator'),
      controlPort: r.port('DETOUR_CONTROL_PORT', OPERATOR_CONTROL_PORT),
      healthPort: r.port('DETOUR_HEALTH_PORT', OPERATOR_HEALTH_PORT),
      metricsPort: r.port('DETOUR_METRICS_PORT', OPERATOR_METRICS_PORT),
      workers: r.integer('DETOUR_WORKERS', 4, { min: 1, max: 256 }),
      resyncMs: seconds('DETOUR_RESYNC_SECONDS', 600, { allowZero: true }),
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
      webhookCertificates: certificateManager === 'cert-manager' ? undefined : {
        namespace,
        secretName: webhookSecret,
        webhookConfigName,
        serviceName: webhookService,
        extraDnsNames: servingDnsNames(operatorService, namespace),
      },
      controlTls: controlTls ? { namespace, secretName: webhookSecret } : undefined,
    },
  };
  r.finish();
  return settings;
}
