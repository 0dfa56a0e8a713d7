// The Intercept reconciler: gather (caches and a few reads) → plan (pure) → act (writes).
// Level-based: a key goes in, the world is read, nothing from the triggering event is trusted.

import { randomBytes } from 'node:crypto';
import { API_GROUP, API_VERSION, FINALIZER, INJECT_LABEL, INTERCEPT_NAME_LABEL, INTERCEPT_PLURAL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../core/constants.js';
import { interceptKey, tokenSecretName, TOKEN_SECRET_KEY, type Intercept, type ObjectMeta } from '../../core/api/intercept.js';
import type { Route } from '../../core/routing/table.js';
import type { Logger } from '../../core/logging.js';
import { classifyApiError } from '../../core/errors.js';
import { hashToken } from '../../core/tunnel/protocol.js';
import { JSON_PATCH, MERGE_PATCH, resourcePath, type KubeClient } from '../../core/kube/client.js';
import type { Informer } from '../runtime/informer.js';
import type { ControlHub } from '../control/hub.js';
import type { EventRecorder } from '../events.js';
import { normalisedPort, planConflicts } from './conflicts.js';
import { NAMESPACE_INDEX, WORKLOAD_INDEX, workloadIndexKey, workloadOf } from './enqueue.js';
import { OwnWrites } from './own-writes.js';
import { isRoutable, planIntercept, type Gathered } from './plan.js';
import type { Service } from './service-bypass.js';
import type { Pod, Workload } from './workload.js';
import { planAccess } from './access.js';
import type { AccessApplier } from './access-apply.js';
import { planPolicyVerdict } from './policy.js';
import type { PolicyInformers } from './policy-informers.js';

export interface Secret {
  metadata: ObjectMeta;
  data?: Record<string, string>;
}

export interface ReconcilerDeps {
  client: KubeClient;
  /** Must carry `interceptIndexers` (siblings are read by workload, not by scanning the cache). */
  intercepts: Informer<Intercept>;
  workloads: Record<Workload['kind'], Informer<Workload>>;
  secrets: Informer<Secret>;
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

export interface ReconcileResult {
  requeueAfterMs?: number;
}

const WORKLOAD_PLURAL = { Deployment: 'deployments', StatefulSet: 'statefulsets', ReplicaSet: 'replicasets' } as const;

function interceptPath(ns: string, name: string, sub?: string): string {
  return resourcePath(API_GROUP, API_VERSION, INTERCEPT_PLURAL, ns, name, sub);
}

function ownsIt(s: Secret, i: Intercept): boolean {
  return (s.metadata.ownerReferences ?? []).some((r) => r.uid === i.metadata.uid);
}

export class InterceptReconciler {
  /** Our own writes the cache has not shown yet (read-your-writes). */
  private readonly written = new OwnWrites<Intercept>();
  /** `uid/reason` of the pod Events already recorded by this process: each is said once per pod. */
  private readonly podEventsSaid = new Set<string>();

  constructor(private readonly d: ReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
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
    const workload = workloadOf(i);
    const ns = i.metadata.namespace;
    const name = i.metadata.name;

    if (i.metadata.deletionTimestamp) {
      d.hub.setRoute(key, workload, undefined);
      if (i.metadata.finalizers?.includes(FINALIZER)) {
        const rest = i.metadata.finalizers.filter((f) => f !== FINALIZER);
        await this.ignoreGone(d.client.request('PATCH', interceptPath(ns, name), {
          contentType: JSON_PATCH,
          body: [
            { op: 'test', path: '/metadata/finalizers', value: i.metadata.finalizers },
            { op: 'replace', path: '/metadata/finalizers', value: rest },
          ],
        }));
        d.logger.info({ intercept: key }, 'Withdrew routes and removed the finalizer');
      }
      return {};
    }

    if (!i.metadata.finalizers?.includes(FINALIZER)) {
      const from = i;
      i = await this.forgetOnConflict(key, d.client.request<Intercept>('PATCH', interceptPath(ns, name), {
        contentType: MERGE_PATCH,
        body: { metadata: { finalizers: [...(i.metadata.finalizers ?? []), FINALIZER], resourceVersion: i.metadata.resourceVersion } },
      }));
      this.written.record(key, from, i);
    }

    // Gather.
    const now = d.now();
    const w = d.workloads[workload.kind].get(`${ns}/${workload.name}`);
    const pods = w ? await this.fetchPods(ns, w) : [];
    // Conflicts are decided among the intercepts on the same workload and port only.
    const port = normalisedPort(i);
    const siblings = d.intercepts.byIndex(WORKLOAD_INDEX, workloadIndexKey(workload)).filter((x) => interceptKey(x) !== key && normalisedPort(x) === port);
    const candidates = [i, ...siblings].filter((x) => isRoutable(x, now));
    const conflictWith = planConflicts(candidates).get(key);
    const conflictWithMode = conflictWith !== undefined ? candidates.find((x) => interceptKey(x) === conflictWith)?.spec.mode ?? 'Steal' : undefined;
    const secretName = tokenSecretName(name);
    let secret = d.secrets.get(`${ns}/${secretName}`);
    if (!secret) secret = await this.fetchSecret(ns, secretName);
    const foreign = secret !== undefined && secret.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE;
    const ours = secret !== undefined && !foreign && ownsIt(secret, i);
    const token = ours && secret!.data?.[TOKEN_SECRET_KEY] ? Buffer.from(secret!.data[TOKEN_SECRET_KEY]!, 'base64').toString('utf8') : undefined;
    const gathered: Gathered = {
      intercept: i,
      conflictWith,
      ...(conflictWithMode !== undefined ? { conflictWithMode } : {}),
      workload: w,
      pods,
      tokenHash: token ? hashToken(token) : undefined,
      tokenSecretForeign: foreign,
      sidecars: d.hub.stats(workload, key),
      services: d.services?.byIndex(NAMESPACE_INDEX, ns),
      ...(d.policies ? { policy: planPolicyVerdict(i, await d.policies.gather(ns, w?.metadata.labels)) } : {}),
    };

    // Decide.
    const plan = planIntercept(gathered, now);

    // Act.
    if (plan.optIn && w) {
      await d.client.request('PATCH', resourcePath('apps', 'v1', WORKLOAD_PLURAL[workload.kind], ns, workload.name), {
        contentType: MERGE_PATCH,
        body: { spec: { template: { metadata: { labels: { [INJECT_LABEL]: 'true' } } } } },
      });
      d.logger.info({ intercept: key, workload: `${workload.kind}/${workload.name}` }, 'Opted workload in to sidecar injection');
    }
    let tokenHash = gathered.tokenHash;
    if (plan.mintToken) {
      if (secret && !foreign && !ours) {
        // A managed Secret left by an earlier Intercept of the same name: replace it.
        await this.ignoreGone(d.client.request('DELETE', resourcePath('', 'v1', 'secrets', ns, secretName)));
      }
      const minted = randomBytes(32).toString('base64url');
      await d.client.request('POST', resourcePath('', 'v1', 'secrets', ns), {
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'Opaque',
          metadata: {
            name: secretName,
            namespace: ns,
            labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [INTERCEPT_NAME_LABEL]: name },
            ownerReferences: [{ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Intercept', name, uid: i.metadata.uid!, controller: true, blockOwnerDeletion: true }],
          },
          data: { [TOKEN_SECRET_KEY]: Buffer.from(minted).toString('base64') },
        },
      });
      tokenHash = hashToken(minted);
      d.logger.info({ intercept: key, secretName: `${ns}/${secretName}` }, 'Minted a tunnel token');
      await d.record(i, { type: 'Normal', reason: 'TokenMinted', message: `Stored a new tunnel token in Secret ${secretName}` });
    }
    if (d.access) {
      const changed = await d.access.ensure(key, planAccess(i));
      if (changed) d.logger.info({ intercept: key, changed }, 'Granted access to the token Secret to the creator and connectors');
    }
    const route: Route | undefined = plan.route && tokenHash ? { ...plan.route, tokenHash } : undefined;
    d.hub.setRoute(key, workload, route);

    if (plan.statusChanged) {
      try {
        const from = i;
        const written = await this.forgetOnConflict(key, d.client.request<Intercept>('PUT', interceptPath(ns, name, 'status'), { body: { ...i, status: plan.status } }));
        if (written?.metadata) this.written.record(key, from, written);
      } catch (err) {
        if (classifyApiError(err) === 'not-found') {
          this.written.forget(key);
          return {};
        }
        throw err;
      }
      if (i.status?.phase !== plan.phase) d.logger.info({ intercept: key, phase: plan.phase, from: i.status?.phase }, 'Updated intercept phase');
    }
    for (const e of plan.events) await d.record(i, e);
    for (const { pod, event } of plan.podEvents) {
      const said = `${pod.metadata.uid ?? pod.metadata.name}/${event.reason}`;
      if (this.podEventsSaid.has(said)) continue;
      if (this.podEventsSaid.size >= 10_000) this.podEventsSaid.clear();
      this.podEventsSaid.add(said);
      await d.record({ apiVersion: 'v1', kind: 'Pod', metadata: { ...pod.metadata, namespace: ns } }, event);
    }
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs + 50 } : {};
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

  private async fetchPods(ns: string, w: Workload): Promise<Pod[]> {
    const labels = w.spec.selector?.matchLabels;
    if (!labels || Object.keys(labels).length === 0) return [];
    const selector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    const list = await this.d.client.request<{ items: Pod[] }>('GET', resourcePath('', 'v1', 'pods', ns), { query: { labelSelector: selector } });
    return list.items;
  }

  private async fetchSecret(ns: string, name: string): Promise<Secret | undefined> {
    try {
      return await this.d.client.request<Secret>('GET', resourcePath('', 'v1', 'secrets', ns, name));
    } catch (err) {
      if (classifyApiError(err) === 'not-found') return undefined;
      throw err;
    }
  }

  private async ignoreGone(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (classifyApiError(err) !== 'not-found') throw err;
    }
  }
}
