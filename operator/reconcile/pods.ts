// The pod cache feeds sidecar readiness (which pods of a workload lack a sidecar, or carry one that
// idles for the port) without a pod LIST per reconcile. Pure helpers: what the cache keeps of a pod,
// which cached pods belong to a workload, and which pod changes can change an Intercept's status.

import { INJECTED_ANNOTATION } from '../../core/constants.js';
import type { Pod, Workload } from './workload.js';

/**
 * What the operator reads of a pod; everything else is dropped before caching: identity, labels
 * (selection), the injection record, deletion, phase, and the containers' names (is the sidecar
 * there). A cache of every pod in the cluster then costs little.
 */
export function slimPod(pod: Pod): Pod {
  const m = pod.metadata;
  const injected = m.annotations?.[INJECTED_ANNOTATION];
  const ports = (cs: Pod['spec']['containers'] | undefined) => cs?.map((c) => ({ name: c.name }));
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(m.labels ? { labels: m.labels } : {}),
      ...(injected !== undefined ? { annotations: { [INJECTED_ANNOTATION]: injected } } : {}),
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
    spec: { containers: ports(pod.spec?.containers) ?? [], ...(pod.spec?.initContainers ? { initContainers: ports(pod.spec.initContainers) } : {}) },
    ...(pod.status?.phase ? { status: { phase: pod.status.phase } } : {}),
  };
}

/** Name of the workload informers' index by selector pair: `namespace/key=value` for each matchLabels entry. */
export const SELECTOR_INDEX = 'selector';
export const selectorIndexers = {
  [SELECTOR_INDEX]: (w: Workload) => Object.entries(w.spec.selector?.matchLabels ?? {}).map(([k, v]) => `${w.metadata.namespace ?? ''}/${k}=${v}`),
};

/** The SELECTOR_INDEX values under which the workloads that can select `pod` are found. */
export function selectorIndexValues(pod: Pod): string[] {
  return Object.entries(pod.metadata.labels ?? {}).map(([k, v]) => `${pod.metadata.namespace ?? ''}/${k}=${v}`);
}

/** Whether the workload's selector (matchLabels) picks the pod; a workload without matchLabels picks none. */
export function selects(w: Workload, pod: Pod): boolean {
  const labels = w.spec.selector?.matchLabels;
  if (!labels || Object.keys(labels).length === 0) return false;
  return Object.entries(labels).every(([k, v]) => pod.metadata.labels?.[k] === v);
}

/** The pods (from the namespace's cached pods) that the workload selects. */
export function podsOf(w: Workload, podsInNamespace: readonly Pod[]): Pod[] {
  return podsInNamespace.filter((p) => selects(w, p));
}

/** What an Intercept's status reads from a pod: a change elsewhere (status conditions, IPs) re-queues nobody. */
export function podStanding(pod: Pod): string {
  return JSON.stringify([pod.metadata.uid, pod.metadata.labels, pod.metadata.annotations?.[INJECTED_ANNOTATION], pod.metadata.deletionTimestamp !== undefined, pod.status?.phase, pod.spec.containers, pod.spec.initContainers]);
}
