// The workload identity (`Kind/name`) the sidecar reports to the operator, derived from the pod's
// ownerReferences alone: the webhook reads nothing from the API.

import type { Pod } from './pod.js';

export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/**
 * The pod's controlling owner as a workload name. Its kind is any owner kind, not only the
 * WorkloadKinds an Intercept can target (core/workload-ref.ts isWorkloadKind tells them apart).
 */
export interface PodWorkload {
  kind: string;
  name: string;
}

/**
 * - a ReplicaSet created by a Deployment is named `<deployment>-<pod-template-hash>` and its pods
 *   carry the `pod-template-hash` label: → `Deployment/<deployment>`. This holds at admission time,
 *   when the pod has only a generateName and its ownerReference to the ReplicaSet.
 * - any other ReplicaSet (no hash label, or a name without the suffix) → `ReplicaSet/<name>`.
 * - StatefulSet, DaemonSet, Job, … → `<Kind>/<name>` of the controlling owner.
 * - no owner → `Pod/<name or generateName>`.
 */
export function planWorkload(pod: Pod): PodWorkload {
  const owners = pod.metadata.ownerReferences ?? [];
  const owner = owners.find((o) => o.controller === true) ?? owners[0];
  if (!owner) return { kind: 'Pod', name: pod.metadata.name || pod.metadata.generateName || '' };
  if (owner.kind === 'ReplicaSet' && (owner.apiVersion === undefined || owner.apiVersion.startsWith('apps/'))) {
    const hash = pod.metadata.labels?.[POD_TEMPLATE_HASH_LABEL];
    const suffix = `-${hash}`;
    if (hash && owner.name.endsWith(suffix) && owner.name.length > suffix.length) {
      return { kind: 'Deployment', name: owner.name.slice(0, -suffix.length) };
    }
  }
  return { kind: owner.kind, name: owner.name };
}
