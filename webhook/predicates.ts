// Pure predicates, pepr style: each returns why a pod must be left alone, or undefined.
// `quiet` skips are normal (the pod did not ask, or was already handled) and produce no warning;
// the others are told to whoever created the pod, as an admission warning.

import { INJECTED_ANNOTATION, INJECT_LABEL, SIDECAR_CONTAINER } from '../core/constants.js';
import type { InjectionConfig } from './config.js';
import type { Pod } from './pod.js';

export interface Skip {
  reason: string;
  quiet: boolean;
}

export type PodPredicate = (pod: Pod, namespace: string, config: InjectionConfig) => Skip | undefined;

export const notOptedIn: PodPredicate = (pod) =>
  pod.metadata.labels?.[INJECT_LABEL] === 'true' ? undefined : { reason: `pod did not opt in (label ${INJECT_LABEL} is not "true")`, quiet: true };

export const alreadyInjected: PodPredicate = (pod) => {
  if (pod.metadata.annotations?.[INJECTED_ANNOTATION] !== undefined) return { reason: 'pod was already injected', quiet: true };
  const all = [...pod.spec.containers, ...(Array.isArray(pod.spec.initContainers) ? pod.spec.initContainers : [])];
  if (all.some((c) => c.name === SIDECAR_CONTAINER)) return { reason: `pod already has a container named ${SIDECAR_CONTAINER}`, quiet: true };
  return undefined;
};

export const systemNamespace: PodPredicate = (_pod, namespace, config) =>
  config.systemNamespaces.includes(namespace) ? { reason: `namespace ${namespace} is a system namespace`, quiet: false } : undefined;

export const hostNetwork: PodPredicate = (pod) =>
  pod.spec.hostNetwork === true ? { reason: 'pod uses hostNetwork, so a sidecar cannot take over its ports', quiet: false } : undefined;

/** In order: the first that matches decides. */
export const SKIP_PREDICATES: readonly PodPredicate[] = [notOptedIn, alreadyInjected, systemNamespace, hostNetwork];

export function planSkip(pod: Pod, namespace: string, config: InjectionConfig): Skip | undefined {
  for (const predicate of SKIP_PREDICATES) {
    const skip = predicate(pod, namespace, config);
    if (skip) return skip;
  }
  return undefined;
}
