// Assembles the operator: health and metrics servers, the control channel server and leader
// election run on every replica; the controller (informers, work queue, reconciler) runs only
// while this replica leads. `startOperator` is what main.ts and the integration tests call.

import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { API_GROUP, API_VERSION, INTERCEPT_NAME_LABEL, INTERCEPT_PLURAL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../core/constants.js';
import { interceptKey, type Intercept } from '../core/api/intercept.js';
import { buildEpoch, type WorkloadRef } from '../core/routing/table.js';
import type { Logger } from '../core/logging.js';
import { classifyApiError, describeApiError } from '../core/errors.js';
import { buildKubeClient, resourcePath } from '../core/kube/client.js';
import { Informer } from './runtime/informer.js';
import { WorkQueue, runWorkers } from './runtime/workqueue.js';
import { startLeaderElection } from './runtime/leader-election.js';
import { ControlHub } from './control/hub.js';
import { buildControlServer, setControlCertificate, type ControlServer } from './control/server.js';
import { startServingSecretSource } from './control/tls-source.js';
import type { KeyPairPem } from '../core/tls/certificates.js';
import { authenticateSidecar } from './control/auth.js';
import { InterceptReconciler, type Secret } from './reconcile/reconciler.js';
import { PolicyInformers } from './reconcile/policy-informers.js';
import { AccessApplier } from './reconcile/access-apply.js';
import { interceptIndexers, NAMESPACE_INDEX, namespaceIndexers, planInterceptEnqueue, WORKLOAD_INDEX, workloadIndexKey } from './reconcile/enqueue.js';
import type { Workload } from './reconcile/workload.js';
import type { Service } from './reconcile/service-bypass.js';
import { buildEventRecorder } from './events.js';
import { buildOperatorMetrics } from './metrics.js';
import { buildHealthApp, buildMetricsApp } from './health.js';
import { startCertificateManager, type CertificateManager } from '../core/tls/certificate-manager.js';

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

const CONTROLLER = 'intercept';
/** Re-look after a 409 even if no watch event comes (the event normally comes first). */
const CONFLICT_REQUEUE_MS = 1000;

function listen(server: Server | ControlServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startOperator(o: OperatorOptions): Promise<RunningOperator> {
  const log = o.logger;
  const client = buildKubeClient(o.kubeConfig);
  const now = o.now ?? (() => new Date());
  const host = o.host ?? '0.0.0.0';
  let controller: { intercepts: Informer<Intercept>; stop(): Promise<void> } | undefined;
  let ready = false;
  let certificates: CertificateManager | undefined;
  const startCertificates = () => {
    const c = o.webhookCertificates;
    if (!c) return;
    certificates = startCertificateManager({
      kube: o.kubeConfig, namespace: c.namespace, secretName: c.secretName, webhookConfigName: c.webhookConfigName,
      serviceName: c.serviceName, extraDnsNames: c.extraDnsNames, clock: { now }, logger: log.child({ component: 'webhook-certificates' }),
      // The leader serves its own new certificate at once; standbys read the Secret (tls-source).
      onServingCertificate: (pair) => { if (controlTlsSource) applyControlCertificate(pair); },
    });
  };
  const stopCertificates = () => {
    certificates?.stop();
    certificates = undefined;
  };

  const metrics = buildOperatorMetrics(o.registry, () => controller?.intercepts.list() ?? []);
  let enqueueWorkload: (w: WorkloadRef) => void = () => undefined;
  const hub = new ControlHub((w) => enqueueWorkload(w), (n) => metrics.connectedSidecars.set(n));

  const controlServer = buildControlServer({
    hub,
    logger: log.child({ component: 'control' }),
    authenticate: (token) => authenticateSidecar(client, token),
    accepting: () => ready,
    tls: o.controlTls !== undefined,
  });
  const applyControlCertificate = (pair: KeyPairPem) => {
    try {
      setControlCertificate(controlServer, pair);
    } catch (err) {
      log.warn({ reason: err instanceof Error ? err.message.split('\n')[0] : String(err) }, 'Failed to apply the control channel certificate');
    }
  };
  const controlTlsSource = o.controlTls
    ? startServingSecretSource({ client, namespace: o.controlTls.namespace, name: o.controlTls.secretName, logger: log.child({ component: 'control-tls' }), onChange: applyControlCertificate })
    : undefined;
  await controlTlsSource?.check();
  const healthApp = buildHealthApp({ ready: () => ready });
  const metricsApp = buildMetricsApp(o.registry);
  const controlPort = await listen(controlServer, o.controlPort, host);
  await healthApp.listen({ port: o.healthPort, host });
  await metricsApp.listen({ port: o.metricsPort, host });
  const healthPort = (healthApp.server.address() as AddressInfo).port;
  const metricsPort = (metricsApp.server.address() as AddressInfo).port;

  function startController(signal: AbortSignal, term: number) {
    const epoch = buildEpoch(term, randomBytes(6).toString('hex'));
    hub.reset(epoch);
    const clog = log.child({ controller: CONTROLLER, epoch });
    const queue = new WorkQueue({}, Date.now, (d) => metrics.workqueueDepth.set({ name: CONTROLLER }, d));
    const add = (key: string) => {
      metrics.workqueueAdds.inc({ name: CONTROLLER });
      queue.add(key);
    };
    const common = { client, logger: clog, resyncMs: o.resyncMs ?? 10 * 60_000, staleAfterMs: o.staleAfterMs };

    // An Intercept event re-queues the Intercept, and its Steal siblings on the same workload and
    // port only when their conflict decision can change (planInterceptEnqueue). Lookups go through
    // the informer's workload index: O(siblings), not O(all Intercepts).
    const siblingsOf = (workloadKey: string) => intercepts.byIndex(WORKLOAD_INDEX, workloadKey);
    const enqueueIntercepts = (old: Intercept | undefined, cur: Intercept | undefined) => {
      for (const key of planInterceptEnqueue(old, cur, siblingsOf)) add(key);
    };
    enqueueWorkload = (w: WorkloadRef) => {
      for (const s of siblingsOf(workloadIndexKey(w))) add(interceptKey(s));
    };
    const intercepts: Informer<Intercept> = new Informer<Intercept>({
      ...common,
      name: 'intercepts',
      path: resourcePath(API_GROUP, API_VERSION, INTERCEPT_PLURAL),
      indexers: interceptIndexers,
      handlers: {
        onAdd: (i) => enqueueIntercepts(undefined, i),
        onUpdate: (old, cur) => enqueueIntercepts(old, cur),
        onDelete: (i) => enqueueIntercepts(i, undefined),
      },
    });
    const workloadInformer = (kind: Workload['kind'], plural: string) =>
      new Informer<Workload>({
        ...common,
        name: plural,
        path: resourcePath('apps', 'v1', plural),
        handlers: {
          onAdd: (w) => enqueueWorkload({ kind, namespace: w.metadata.namespace!, name: w.metadata.name }),
          onUpdate: (_o, w) => enqueueWorkload({ kind, namespace: w.metadata.namespace!, name: w.metadata.name }),
          onDelete: (w) => enqueueWorkload({ kind, namespace: w.metadata.namespace!, name: w.metadata.name }),
        },
      });
    const workloads = {
      Deployment: workloadInformer('Deployment', 'deployments'),
      StatefulSet: workloadInformer('StatefulSet', 'statefulsets'),
      ReplicaSet: workloadInformer('ReplicaSet', 'replicasets'),
    };
    const onSecret = (s: Secret) => {
      const owner = s.metadata.labels?.[INTERCEPT_NAME_LABEL];
      if (owner) add(`${s.metadata.namespace}/${owner}`);
    };
    const secrets = new Informer<Secret>({
      ...common,
      name: 'secrets',
      path: resourcePath('', 'v1', 'secrets'),
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
      handlers: { onAdd: onSecret, onUpdate: (_o, s) => onSecret(s), onDelete: onSecret },
    });
    // A Service change can make one bypass the sidecar (or stop doing so): look again at the
    // Intercepts of its namespace (Services change rarely; Intercepts per namespace are few).
    const onService = (s: Service) => {
      for (const i of intercepts.byIndex(NAMESPACE_INDEX, s.metadata.namespace ?? '')) add(interceptKey(i));
    };
    const services = new Informer<Service>({
      ...common,
      name: 'services',
      path: resourcePath('', 'v1', 'services'),
      indexers: namespaceIndexers,
      handlers: { onAdd: onService, onUpdate: (_o, s) => onService(s), onDelete: onService },
    });
    const informers = [intercepts, workloads.Deployment, workloads.StatefulSet, workloads.ReplicaSet, secrets, services];
    // #15: a policy change re-queues the Intercepts of its namespace (all of them for a cluster policy).
    const policies = new PolicyInformers({
      ...common,
      onChange: (namespace) => { for (const i of namespace === undefined ? intercepts.list() : intercepts.byIndex(NAMESPACE_INDEX, namespace)) add(interceptKey(i)); },
    });
    const access = new AccessApplier(client);
    const reconciler = new InterceptReconciler({ client, intercepts, workloads, secrets, services, hub, record: buildEventRecorder(client, o.identity, clog), logger: clog, now, policies, access });

    const process = async (key: string) => {
      const end = metrics.reconcileTime.startTimer({ controller: CONTROLLER });
      try {
        const r = await reconciler.reconcile(key);
        queue.forget(key);
        if (r.requeueAfterMs !== undefined) {
          queue.addAfter(key, r.requeueAfterMs);
          metrics.reconcileTotal.inc({ controller: CONTROLLER, result: 'requeue_after' });
        } else {
          metrics.reconcileTotal.inc({ controller: CONTROLLER, result: 'success' });
        }
      } catch (err) {
        const { code, reason } = describeApiError(err);
        if (classifyApiError(err) === 'conflict') {
          // Expected: someone wrote the object after the cache we read from (the reconciler already
          // reconciles from its own last write). The watch event re-queues the key; the delayed add
          // is the level-based safety net. Not an error, no per-key backoff, no token bucket.
          metrics.reconcileTotal.inc({ controller: CONTROLLER, result: 'conflict' });
          clog.debug({ intercept: key, code, reason }, 'Reconciled from a stale cache (409 Conflict); requeued');
          queue.forget(key);
          queue.addAfter(key, CONFLICT_REQUEUE_MS);
          return;
        }
        metrics.reconcileTotal.inc({ controller: CONTROLLER, result: 'error' });
        metrics.reconcileErrors.inc({ controller: CONTROLLER });
        metrics.workqueueRetries.inc({ name: CONTROLLER });
        clog.warn({ intercept: key, code, reason, retries: queue.limiter.retries(key) }, 'Failed to reconcile intercept; retrying');
        queue.addRateLimited(key);
      } finally {
        end();
      }
    };

    for (const inf of informers) inf.start();
    const workers = (async () => {
      await Promise.all([...informers.map((i) => i.waitForSync()), policies.startAndSync()]);
      if (signal.aborted) return;
      // The first pass: reconcile everything before publishing tables, so a new leader never
      // pushes a table that lacks routes it has not yet recomputed.
      const initial = intercepts.list().map((i) => interceptKey(i));
      const pending = new Set(initial);
      const run = runWorkers(queue, o.workers ?? 4, async (key) => {
        await process(key);
        if (pending.delete(key) && pending.size === 0) markReady();
      });
      const markReady = () => {
        if (signal.aborted || ready) return;
        hub.startPublishing();
        ready = true;
        clog.info({ intercepts: initial.length }, 'Synced caches and reconciled every intercept; serving sidecars');
      };
      if (initial.length === 0) markReady();
      await run;
    })();
    controller = {
      intercepts,
      async stop() {
        ready = false;
        queue.shutDown();
        await Promise.all([...informers.map((i) => i.stop()), policies.stop()]);
        await workers;
      },
    };
  }

  const elector = startLeaderElection({
    client,
    namespace: o.leaseNamespace,
    name: o.leaseName ?? 'detour-operator',
    identity: o.identity,
    leaseDurationMs: o.leaseDurationMs,
    renewDeadlineMs: o.renewDeadlineMs,
    retryPeriodMs: o.retryPeriodMs,
    logger: log,
    onStartedLeading: (signal, term) => {
      metrics.leader.set({ name: 'detour-operator' }, 1);
      startCertificates();
      startController(signal, term);
    },
    onStoppedLeading: () => {
      metrics.leader.set({ name: 'detour-operator' }, 0);
      stopCertificates();
      ready = false;
      hub.closeAll(1012, 'operator leadership changed');
      const c = controller;
      controller = undefined;
      void c?.stop();
    },
  });

  return {
    controlPort,
    healthPort,
    metricsPort,
    hub,
    isLeader: () => elector.isLeader(),
    isReady: () => ready,
    async stop() {
      await elector.stop();
      stopCertificates();
      controlTlsSource?.stop();
      const c = controller;
      controller = undefined;
      ready = false;
      hub.closeAll(1001, 'operator shutting down');
      await c?.stop();
      await new Promise<void>((r) => controlServer.close(() => r()));
      controlServer.closeAllConnections?.();
      await healthApp.close();
      await metricsApp.close();
      client.close();
      log.info('Stopped operator');
    },
  };
}
