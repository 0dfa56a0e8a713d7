// The Intercept reconciler, level-based: a key goes in, the world is read, nothing from the
// triggering event is trusted. One pass runs small reconcilers in order, each gather → decide → act:
//   1. deletion: withdraw the route, remove the finalizer (and stop)
//   2. gather: the workload, its pods, the policies' verdict (policy.ts), siblings on the same workload and port, Services, the hub's
//      view of the sidecars, the token Secret (all from informer caches; the Secret is read when
//      the cache has not seen it yet)
//   3. token credential (token.ts): mint the tunnel token when there is none → its hash; access to
//      it (access.ts): a Role on that one Secret bound to the creator and the connectors (#15)
//   4. route + status (plan.ts, pure): phase, conditions, the complete route, finalizer, opt-in
//   5. act: finalizer, workload opt-in (opt-in.ts), route into the hub, status PUT when it
//      changed, Events
// A new step that needs the same key and the same gathered world goes here (see docs/operator.md).

import { API_GROUP, API_VERSION, FINALIZER, INTERCEPT_PLURAL } from '../../core/constants.js';
import { interceptKey, tokenSecretName, type Intercept } from '../../core/api/intercept.js';
import type { Logger } from '../../core/logging.js';
import { classifyApiError } from '../../core/errors.js';
import type { WorkloadKind } from '../../core/workload-ref.js';
import { JSON_PATCH, MERGE_PATCH, resourcePath, type KubeClient } from '../../core/kube/client.js';
import type { Informer } from '../runtime/informer.js';
import type { Reconciler, Result } from '../runtime/controller.js';
import type { ControlHub } from '../control/hub.js';
import type { EventRecorder } from '../events.js';
import { ignoreNotFound, readOptional, testFailedAsConflict } from './api-calls.js';
import { normalisedPort, planConflicts } from './conflicts.js';
import { NAMESPACE_INDEX, WORKLOAD_INDEX, workloadIndexKey, workloadOf } from './enqueue.js';
import { ensureOptedIn } from './opt-in.js';
import { OwnWrites } from './own-writes.js';
import { isRoutable, planIntercept, type Gathered } from './plan.js';
import { podsOf } from './pods.js';
import type { Service } from './service-bypass.js';
import { ensureToken, planToken, type Secret } from './token.js';
import type { Pod, Workload } from './workload.js';
import { planAccess } from './access.js';
import type { AccessApplier } from './access-apply.js';
import { planPolicyVerdict } from './policy.js';
import type { PolicyInformers } from './policy-informers.js';

export interface ReconcilerDeps {
  client: KubeClient;
  /** Must carry `interceptIndexers` (siblings are read by workload, not by scanning the cache). */
  intercepts: Informer<Intercept>;
  workloads: Record<WorkloadKind, Informer<Workload>>;
  secrets: Informer<Secret>;
  /** Every pod, slimmed (`slimPod`) and indexed by namespace (`namespaceIndexers`). */
  pods: Informer<Pod>;
  /** Services (with `namespaceIndexers`), to find the ones that bypass the sidecar; absent: not looked at. */
  services?: Informer<Service>;
  hub: ControlHub;
  record: EventRecorder;
  logger: Logger;
  now: () => Date;
  /** InterceptPolicies (#15): absent, none are enforced. */
  policies?: PolicyInformers;
  /** Per-Intercept access to the token Secret (#15): absent, none is granted. */
  access?: AccessApplier;
}

function interceptPath(ns: string, name: string, sub?: string): string {
  return resourcePath(API_GROUP, API_VERSION, INTERCEPT_PLURAL, ns, name, sub);
}

export class InterceptReconciler implements Reconciler {
  /** Our own writes the cache has not shown yet (read-your-writes). */
  private readonly written = new OwnWrites<Intercept>();
  /** `uid/reason` of the pod Events already recorded by this process: each is said once per pod. */
  private readonly podEventsSaid = new Set<string>();

  constructor(private readonly d: ReconcilerDeps) {}

  async reconcile(key: string): Promise<Result> {
    const d = this.d;
    const cached = d.intercepts.get(key);
    if (!cached) {
      // Gone (finalizer already removed, or deleted while we were not leading): withdraw its route.
      this.written.forget(key);
      d.access?.forget(key);
      d.hub.removeRoute(key);
      return {};
    }
    // The cache may not have seen our previous write yet: reconcile from that write instead, so
    // we neither write the same status again nor write from a replaced resourceVersion (409).
    let i = this.written.resolve(key, cached);
    if (i.metadata.deletionTimestamp) {
      await this.withdraw(key, i);
      return {};
    }

    // Gather.
    const now = d.now();
    const gathered = this.gather(key, i, now);
    const policy = d.policies ? planPolicyVerdict(i, await d.policies.gather(i.metadata.namespace, gathered.workload?.metadata.labels)) : undefined;
    const secretName = tokenSecretName(i.metadata.name);
    const secret = d.secrets.get(`${i.metadata.namespace}/${secretName}`) ?? await readOptional(d.client.request<Secret>('GET', resourcePath('', 'v1', 'secrets', i.metadata.namespace, secretName)));

    // Token credential: gather → decide → act, before the route is planned (the route carries its hash).
    const token = await ensureToken(d, i, planToken(i, secret));
    // Access to that token (#15): a Role on the one Secret, bound to the creator and the connectors.
    if (d.access) {
      const changed = await d.access.ensure(key, planAccess(i));
      if (changed) d.logger.info({ intercept: key, changed }, 'Granted access to the token Secret to the creator and connectors');
    }

    // Route + status: decide.
    const plan = planIntercept({ ...gathered, tokenHash: token.tokenHash, tokenSecretForeign: token.foreign, ...(policy ? { policy } : {}) }, now);

    // Act.
    if (plan.addFinalizer) i = await this.addFinalizer(key, i);
    const workload = workloadOf(i);
    if (plan.optIn && gathered.workload) await ensureOptedIn(d, key, workload);
    d.hub.setRoute(key, workload, plan.route);
    if (plan.statusChanged) {
      const from = i;
      const written = await ignoreNotFound(this.forgetOnConflict(key, d.client.request<Intercept>('PUT', interceptPath(i.metadata.namespace, i.metadata.name, 'status'), { body: { ...i, status: plan.status } })));
      if (written === undefined) {
        this.written.forget(key);
        return {};
      }
      if (written.metadata) this.written.record(key, from, written);
      if (i.status?.phase !== plan.phase) d.logger.info({ intercept: key, phase: plan.phase, from: i.status?.phase }, 'Updated intercept phase');
    }
    for (const e of plan.events) await d.record(i, e);
    for (const { pod, event } of plan.podEvents) {
      const said = `${pod.metadata.uid ?? pod.metadata.name}/${event.reason}`;
      if (this.podEventsSaid.has(said)) continue;
      if (this.podEventsSaid.size >= 10_000) this.podEventsSaid.clear();
      this.podEventsSaid.add(said);
      await d.record({ apiVersion: 'v1', kind: 'Pod', metadata: { ...pod.metadata, namespace: i.metadata.namespace } }, event);
    }
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs + 50 } : {};
  }

  /** A terminal error (400/403/422) is not retried: say so on the Intercept, where its owner looks. */
  async reportTerminal(key: string, error: { code: number | undefined; reason: string }): Promise<void> {
    const i = this.d.intercepts.get(key);
    if (!i) return;
    await this.d.record(i, { type: 'Warning', reason: 'ReconcileFailed', message: `The API server refused a request made for this Intercept (${error.code ?? 'no code'} ${error.reason}); not retried until the Intercept or what it reads changes, or the next resync` });
  }

  /** Everything the route + status plan reads, except the token (caches only, no I/O). */
  private gather(key: string, i: Intercept, now: Date): Omit<Gathered, 'tokenHash' | 'tokenSecretForeign'> {
    const d = this.d;
    const ns = i.metadata.namespace;
    const workload = workloadOf(i);
    const w = d.workloads[workload.kind].get(`${ns}/${workload.name}`);
    // Conflicts are decided among the intercepts on the same workload and port only.
    const port = normalisedPort(i);
    const siblings = d.intercepts.byIndex(WORKLOAD_INDEX, workloadIndexKey(workload)).filter((x) => interceptKey(x) !== key && normalisedPort(x) === port);
    const candidates = [i, ...siblings].filter((x) => isRoutable(x, now));
    const conflictWith = planConflicts(candidates).get(key);
    const conflictWithMode = conflictWith !== undefined ? candidates.find((x) => interceptKey(x) === conflictWith)?.spec.mode ?? 'Steal' : undefined;
    return {
      intercept: i,
      conflictWith,
      ...(conflictWithMode !== undefined ? { conflictWithMode } : {}),
      workload: w,
      pods: w ? podsOf(w, d.pods.byIndex(NAMESPACE_INDEX, ns)) : [],
      sidecars: d.hub.stats(workload, key),
      services: d.services?.byIndex(NAMESPACE_INDEX, ns),
    };
  }

  private async addFinalizer(key: string, i: Intercept): Promise<Intercept> {
    const patched = await this.forgetOnConflict(key, this.d.client.request<Intercept>('PATCH', interceptPath(i.metadata.namespace, i.metadata.name), {
      contentType: MERGE_PATCH,
      body: { metadata: { finalizers: [...(i.metadata.finalizers ?? []), FINALIZER], resourceVersion: i.metadata.resourceVersion } },
    }));
    this.written.record(key, i, patched);
    return patched;
  }

  /** A deleted Intercept: its route goes first, then the finalizer that held the object for it. */
  private async withdraw(key: string, i: Intercept): Promise<void> {
    this.d.hub.setRoute(key, workloadOf(i), undefined);
    if (!i.metadata.finalizers?.includes(FINALIZER)) return;
    const rest = i.metadata.finalizers.filter((f) => f !== FINALIZER);
    await ignoreNotFound(testFailedAsConflict(this.d.client.request('PATCH', interceptPath(i.metadata.namespace, i.metadata.name), {
      contentType: JSON_PATCH,
      body: [
        { op: 'test', path: '/metadata/finalizers', value: i.metadata.finalizers },
        { op: 'replace', path: '/metadata/finalizers', value: rest },
      ],
    })));
    this.d.logger.info({ intercept: key }, 'Withdrew routes and removed the finalizer');
  }

  /** A 409 means someone else wrote since: drop what we remember and let the next reconcile read the cache. */
  private async forgetOnConflict<T>(key: string, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      if (classifyApiError(err) === 'conflict') this.written.forget(key);
      throw err;
    }
  }
}
