// Which Intercepts an event can affect (pure). An Intercept's own reconcile reads only its own
// object, its workload, its Secret, the hub, and — for conflicts — the intercepts on the same
// workload and port (Steal and Mirror: an older Mirror blocks a newer Steal with fallback Reject).
// So an event re-queues the Intercept itself, and its siblings on the same workload and port only
// when the event can change its standing among them (added, deleted, spec, creation or deletion
// changed, the broad-Mirror opt-in annotation changed, or it expired); a status-only write
// re-queues nobody else. A pod event re-queues the Intercepts whose workload selects the pod, and
// only when something their status reads of it changed (podStanding).

import { interceptKey, type Intercept } from '../../core/api/intercept.js';
import type { WorkloadRef } from '../../core/workload-ref.js';
import { workloadKey } from '../control/hub.js';
import { ALLOW_BROAD_MIRROR_ANNOTATION } from '../../core/constants.js';
import { normalisedPort } from './conflicts.js';
import { podStanding, selects } from './pods.js';
import type { Pod, Workload } from './workload.js';

/** Name of the Intercept informer's index by workload. */
export const WORKLOAD_INDEX = 'workload';

/** `namespace/Kind/name`: the index value of a workload, the same key the control hub files its tables under. */
export const workloadIndexKey: (w: WorkloadRef) => string = workloadKey;

/** The workload an Intercept targets (always in its own namespace). */
export function workloadOf(i: Intercept): WorkloadRef {
  return { kind: i.spec.workload.kind, namespace: i.metadata.namespace, name: i.spec.workload.name };
}

export function interceptWorkloadKey(i: Intercept): string {
  return workloadKey(workloadOf(i));
}

/** Informer index by namespace (Intercepts and Services). */
export const NAMESPACE_INDEX = 'namespace';
export const namespaceIndexers = { [NAMESPACE_INDEX]: (o: { metadata: { namespace?: string } }) => [o.metadata.namespace ?? ''] };

/** The indexers to give the Intercept informer. */
export const interceptIndexers = { [WORKLOAD_INDEX]: (i: Intercept) => [interceptWorkloadKey(i)], ...namespaceIndexers };

/** What other intercepts' conflict decision reads from this one. */
function standing(i: Intercept): string {
  return JSON.stringify([i.metadata.uid, i.metadata.creationTimestamp, i.metadata.deletionTimestamp !== undefined, i.status?.phase === 'Expired', i.metadata.annotations?.[ALLOW_BROAD_MIRROR_ANNOTATION], i.spec]);
}

/**
 * Keys to enqueue after an informer event on an Intercept: `old` undefined for an add, `cur`
 * undefined for a delete. `siblingsOf(workloadKey)` lists the cached Intercepts of a workload.
 */
export function planInterceptEnqueue(old: Intercept | undefined, cur: Intercept | undefined, siblingsOf: (workloadKey: string) => readonly Intercept[]): string[] {
  const self = cur ?? old;
  if (!self) return [];
  const keys = new Set([interceptKey(self)]);
  if (old && cur && standing(old) === standing(cur)) return [...keys];
  for (const v of [old, cur]) {
    if (!v) continue;
    const port = normalisedPort(v);
    for (const s of siblingsOf(interceptWorkloadKey(v))) {
      if (normalisedPort(s) === port) keys.add(interceptKey(s));
    }
  }
  return [...keys];
}

/**
 * Keys to enqueue after an informer event on a pod (`old` undefined for an add, `cur` for a
 * delete): the Intercepts of every workload whose selector picks the pod (before or after).
 * `candidates(pod)` lists the cached workloads that may (`selectorIndexValues`), `interceptsOf`
 * the Intercept keys of a workload. O(the pod's labels + matches), not O(Intercepts).
 */
export function planPodEnqueue(old: Pod | undefined, cur: Pod | undefined, candidates: (pod: Pod) => Iterable<[WorkloadRef, Workload]>, interceptsOf: (w: WorkloadRef) => readonly string[]): string[] {
  if (old && cur && podStanding(old) === podStanding(cur)) return [];
  const keys = new Set<string>();
  for (const p of [old, cur]) {
    if (!p) continue;
    for (const [ref, w] of candidates(p)) if (selects(w, p)) for (const k of interceptsOf(ref)) keys.add(k);
  }
  return [...keys];
}
