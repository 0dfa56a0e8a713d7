// Assembles the operator from its parts and decides nothing itself: a manager (runtime/manager.ts)
// with the servers every replica runs (control channel, health, metrics, the control channel's
// certificate source) and, only while this replica leads, the Intercept controller
// (intercept-runnable.ts) and the webhook certificates controller. `startOperator` is what main.ts
// and the integration tests call. See docs/operator.md for the picture.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../core/logging.js';
import type { KeyPairPem } from '../core/tls/certificates.js';
import type { WorkloadRef } from '../core/workload-ref.js';
import { buildKubeClient } from '../core/kube/client.js';
import { Fanout } from './runtime/fanout.js';
import { controllerRunnable, Manager, type LeaderRunnable, type Server } from './runtime/manager.js';
import { buildRuntimeMetrics } from './runtime/metrics.js';
import { fastifyServer, nodeServer } from './runtime/servers.js';
import { ControlHub } from './control/hub.js';
import { buildControlServer, setControlCertificate } from './control/server.js';
import { startServingSecretSource, type ServingSecretSource } from './control/tls-source.js';
import { authenticateSidecar } from './control/auth.js';
import { buildCertificateController, type WebhookCertificateOptions } from './reconcile/webhook-certificates.js';
import { buildInterceptRunnable } from './intercept-runnable.js';
import { buildOperatorMetrics } from './metrics.js';
import { buildHealthApp, buildMetricsApp } from './health.js';

export type { WebhookCertificateOptions } from './reconcile/webhook-certificates.js';

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  registry: Registry;
  /** Unique per replica (the pod name in a cluster). */
  identity: string;
  /** Namespace of the leader-election Lease. */
  leaseNamespace: string;
  leaseName?: string;
  /** 0 picks a free port (tests). */
  controlPort: number;
  healthPort: number;
  metricsPort: number;
  host?: string;
  workers?: number;
  resyncMs?: number;
  staleAfterMs?: number;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  now?: () => Date;
  /**
   * Keep the webhook's certificates (CA and serving Secrets, caBundle of the configuration) while
   * this replica leads. Omit when cert-manager (or nobody) manages them.
   */
  webhookCertificates?: WebhookCertificateOptions;
  /**
   * Serve the control channel over TLS with the serving Secret `secretName` in `namespace` (the
   * webhook's, whose certificate also names the operator's Service), read by every replica.
   * Omit for plain ws:// (tests, development).
   */
  controlTls?: { namespace: string; secretName: string };
}

export interface RunningOperator {
  controlPort: number;
  healthPort: number;
  metricsPort: number;
  isLeader(): boolean;
  /** Leader with caches synced and the first reconcile pass done. */
  isReady(): boolean;
  hub: ControlHub;
  stop(): Promise<void>;
}

export async function startOperator(o: OperatorOptions): Promise<RunningOperator> {
  const log = o.logger;
  const client = buildKubeClient(o.kubeConfig);
  const now = o.now ?? (() => new Date());
  const host = o.host ?? '0.0.0.0';
  const runtimeMetrics = buildRuntimeMetrics(o.registry);

  // The hub outlives leadership terms; each term's controller subscribes to its changes.
  const hubChanges = new Fanout<WorkloadRef>();
  const hub = new ControlHub(hubChanges.emit);
  const intercepts = buildInterceptRunnable({
    client, hub, hubChanges, logger: log, now, identity: o.identity, workers: o.workers,
    resyncMs: o.resyncMs ?? 10 * 60_000, staleAfterMs: o.staleAfterMs, metrics: runtimeMetrics,
  });
  buildOperatorMetrics(o.registry, { intercepts: intercepts.intercepts, connectedSidecars: () => hub.count() });

  const controlServer = buildControlServer({
    hub,
    logger: log.child({ component: 'control' }),
    authenticate: (token) => authenticateSidecar(client, token),
    accepting: intercepts.ready,
    tls: o.controlTls !== undefined,
  });
  const applyControlCertificate = (pair: KeyPairPem) => {
    try {
      setControlCertificate(controlServer, pair);
    } catch (err) {
      log.warn({ reason: err instanceof Error ? err.message.split('\n')[0] : String(err) }, 'Failed to apply the control channel certificate');
    }
  };
  let tlsSource: ServingSecretSource | undefined;
  const controlTls = o.controlTls;
  const tlsServers: Server[] = controlTls ? [{
    name: 'control-tls',
    async start() {
      tlsSource = startServingSecretSource({ client, namespace: controlTls.namespace, name: controlTls.secretName, logger: log.child({ component: 'control-tls' }), onChange: applyControlCertificate });
      await tlsSource.check();
    },
    async stop() { tlsSource?.stop(); },
  }] : [];
  const control = nodeServer('control', controlServer, o.controlPort, host);
  const health = fastifyServer('health', buildHealthApp({ ready: intercepts.ready }), o.healthPort, host);
  const metrics = fastifyServer('metrics', buildMetricsApp(o.registry), o.metricsPort, host);

  const certificates = o.webhookCertificates;
  const runnables: LeaderRunnable[] = [intercepts];
  if (certificates) {
    runnables.push(controllerRunnable('webhook-certificates', () => buildCertificateController({
      kubeConfig: o.kubeConfig, certificates, now, metrics: runtimeMetrics, logger: log.child({ component: 'webhook-certificates' }),
      // The leader serves its own new certificate at once; standbys read the Secret (control-tls).
      onServingCertificate: controlTls ? applyControlCertificate : undefined,
    })));
  }

  const manager = new Manager({
    client,
    logger: log,
    metrics: runtimeMetrics,
    leaderElection: {
      namespace: o.leaseNamespace, name: o.leaseName ?? 'detour-operator', identity: o.identity,
      leaseDurationMs: o.leaseDurationMs, renewDeadlineMs: o.renewDeadlineMs, retryPeriodMs: o.retryPeriodMs,
    },
    servers: [...tlsServers, control, health, metrics],
    runnables,
  });
  await manager.start();

  return {
    controlPort: control.port(),
    healthPort: health.port(),
    metricsPort: metrics.port(),
    hub,
    isLeader: () => manager.isLeader(),
    isReady: intercepts.ready,
    async stop() {
      await manager.stop();
      hub.closeAll(1001, 'operator shutting down');
      client.close();
      log.info('Stopped operator');
    },
  };
}
