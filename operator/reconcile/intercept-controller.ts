// Builds the Intercept controller: its sources (informers on Intercepts, the three workload kinds,
// managed Secrets, Services, pods, the two policy kinds; the control hub's change channel), the queue, the reconciler.
// The one builder: operator.ts runs it while leading, the benchmark (bench/operator-scale.ts) and
// the reconciler's unit tests run it against an in-memory API. Nothing happens until `start()`.

import { API_GROUP, API_VERSION, INTERCEPT_NAME_LABEL, INTERCEPT_PLURAL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../core/constants.js';
import { interceptKey, type Intercept } from '../../core/api/intercept.js';
import type { Logger } from '../../core/logging.js';
import { WORKLOAD_KINDS, WORKLOAD_PLURALS, type WorkloadKind, type WorkloadRef } from '../../core/workload-ref.js';
import { resourcePath, type KubeClient } from '../../core/kube/client.js';
import { channelSource, Controller } from '../runtime/controller.js';
import { Informer, type InformerOptions, type KubeObject } from '../runtime/informer.js';
import { workqueueHooks, type RuntimeMetrics } from '../runtime/metrics.js';
import type { Timers } from '../runtime/timers.js';
import { WorkQueue } from '../runtime/workqueue.js';
import type { ControlHub } from '../control/hub.js';
import { buildEventRecorder } from '../events.js';
import { interceptIndexers, NAMESPACE_INDEX, namespaceIndexers, planInterceptEnqueue, planPodEnqueue, WORKLOAD_INDEX, workloadIndexKey } from './enqueue.js';
import { SELECTOR_INDEX, selectorIndexers, selectorIndexValues, slimPod } from './pods.js';
import { InterceptReconciler } from './reconciler.js';
import { PolicyInformers } from './policy-informers.js';
import { AccessApplier } from './access-apply.js';
import type { Service } from './service-bypass.js';
import type { Secret } from './token.js';
import type { Pod, Workload } from './workload.js';

export const INTERCEPT_CONTROLLER = 'intercept';

export interface InterceptControllerDeps {
  client: KubeClient;
  hub: ControlHub;
  /** What the hub emits when a workload's sidecar stats can have changed (its `onChange`). */
  hubChanges: { subscribe(listener: (w: WorkloadRef) => void): () => void };
  logger: Logger;
  now: () => Date;
  /** reportingInstance of the Events (the pod name). */
  identity: string;
  workers?: number;
  /** Informer resync period; 0 or undefined: none. */
  resyncMs?: number;
  staleAfterMs?: number;
  metrics?: RuntimeMetrics;
  /** The queue's clock and timers (fake ones in tests). */
  timers?: Timers;
  conflictRequeueMs?: number;
}

export interface InterceptController {
  controller: Controller;
  intercepts: Informer<Intercept>;
  reconciler: InterceptReconciler;
}

export function buildInterceptController(deps: InterceptControllerDeps): InterceptController {
  const queue = new WorkQueue({ timers: deps.timers, hooks: workqueueHooks(deps.metrics, INTERCEPT_CONTROLLER) });
  const add = (key: string) => queue.add(key);
  const informer = <T extends KubeObject>(o: Omit<InformerOptions<T>, 'client' | 'logger' | 'resyncMs' | 'staleAfterMs'>) =>
    new Informer<T>({ client: deps.client, logger: deps.logger, resyncMs: deps.resyncMs, staleAfterMs: deps.staleAfterMs, ...o });
  /** Informer handlers that call `keysOf(old, cur)` on every add, update and delete. */
  const each = <T>(keysOf: (old: T | undefined, cur: T | undefined) => Iterable<string>) => ({
    onAdd: (o: T) => { for (const k of keysOf(undefined, o)) add(k); },
    onUpdate: (old: T, cur: T) => { for (const k of keysOf(old, cur)) add(k); },
    onDelete: (o: T) => { for (const k of keysOf(o, undefined)) add(k); },
  });

  // An Intercept event re-queues the Intercept, and its siblings on the same workload and port only
  // when their conflict decision can change (planInterceptEnqueue). Lookups go through the
  // informer's workload index: O(siblings), not O(all Intercepts).
  const siblingsOf = (workloadKey: string) => intercepts.byIndex(WORKLOAD_INDEX, workloadKey);
  const interceptsOf = (w: WorkloadRef) => siblingsOf(workloadIndexKey(w)).map(interceptKey);
  const intercepts: Informer<Intercept> = informer<Intercept>({
    name: 'intercepts',
    path: resourcePath(API_GROUP, API_VERSION, INTERCEPT_PLURAL),
    indexers: interceptIndexers,
    handlers: each<Intercept>((old, cur) => planInterceptEnqueue(old, cur, siblingsOf)),
  });
  // A workload event re-queues its Intercepts (a Waiting one goes on when its workload appears).
  const workloadInformer = (kind: WorkloadKind) => informer<Workload>({
    name: WORKLOAD_PLURALS[kind],
    path: resourcePath('apps', 'v1', WORKLOAD_PLURALS[kind]),
    indexers: selectorIndexers,
    handlers: each<Workload>((old, cur) => {
      const w = (cur ?? old)!;
      return interceptsOf({ kind, namespace: w.metadata.namespace!, name: w.metadata.name });
    }),
  });
  const workloads = Object.fromEntries(WORKLOAD_KINDS.map((k) => [k, workloadInformer(k)])) as Record<WorkloadKind, Informer<Workload>>;
  // A managed Secret names its Intercept (a deleted token Secret is minted again).
  const secrets = informer<Secret>({
    name: 'secrets',
    path: resourcePath('', 'v1', 'secrets'),
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
    handlers: each<Secret>((old, cur) => {
      const s = (cur ?? old)!;
      const owner = s.metadata.labels?.[INTERCEPT_NAME_LABEL];
      return owner ? [`${s.metadata.namespace}/${owner}`] : [];
    }),
  });
  // A Service change can make one bypass the sidecar (or stop doing so): look again at the
  // Intercepts of its namespace (Services change rarely; Intercepts per namespace are few).
  const services = informer<Service>({
    name: 'services',
    path: resourcePath('', 'v1', 'services'),
    indexers: namespaceIndexers,
    handlers: each<Service>((old, cur) => intercepts.byIndex(NAMESPACE_INDEX, (cur ?? old)!.metadata.namespace ?? '').map(interceptKey)),
  });
  // Pods feed sidecar readiness from the cache; a pod change re-queues the Intercepts whose
  // workload selects it (found through the workloads' selector index), when something their
  // status reads of it changed.
  const candidates = function* (pod: Pod): Iterable<[WorkloadRef, Workload]> {
    for (const kind of WORKLOAD_KINDS) {
      for (const value of selectorIndexValues(pod)) {
        for (const w of workloads[kind].byIndex(SELECTOR_INDEX, value)) yield [{ kind, namespace: w.metadata.namespace ?? '', name: w.metadata.name }, w];
      }
    }
  };
  const pods = informer<Pod>({
    name: 'pods',
    path: resourcePath('', 'v1', 'pods'),
    indexers: namespaceIndexers,
    transform: slimPod,
    handlers: each<Pod>((old, cur) => planPodEnqueue(old, cur, candidates, interceptsOf)),
  });
  // The hub says when a workload's sidecar stats can have changed (first ack, disconnect, clients).
  const hubSource = channelSource(deps.hubChanges, (w) => { for (const k of interceptsOf(w)) add(k); });

  // InterceptPolicies (#15): a namespaced policy's change re-queues the Intercepts of its namespace,
  // a cluster policy's all of them (policies change rarely).
  const policies = new PolicyInformers({
    client: deps.client, logger: deps.logger, resyncMs: deps.resyncMs, staleAfterMs: deps.staleAfterMs,
    onChange: (namespace) => { for (const i of namespace === undefined ? intercepts.list() : intercepts.byIndex(NAMESPACE_INDEX, namespace)) add(interceptKey(i)); },
  });

  const reconciler = new InterceptReconciler({
    client: deps.client, intercepts, workloads, secrets, services, pods, hub: deps.hub,
    record: buildEventRecorder(deps.client, deps.identity, deps.logger), logger: deps.logger, now: deps.now,
    policies, access: new AccessApplier(deps.client),
  });
  const controller = new Controller({
    name: INTERCEPT_CONTROLLER,
    queue,
    reconciler,
    sources: [intercepts, ...WORKLOAD_KINDS.map((k) => workloads[k]), secrets, services, pods, policies, hubSource],
    // The first pass: every Intercept once, before any table is published.
    initialKeys: () => intercepts.list().map(interceptKey),
    workers: deps.workers ?? 4,
    logger: deps.logger,
    metrics: deps.metrics,
    conflictRequeueMs: deps.conflictRequeueMs,
    keyField: 'intercept',
  });
  return { controller, intercepts, reconciler };
}
