// TypeScript shape of InterceptPolicy (namespaced) and ClusterInterceptPolicy (detour.dev/v1alpha1).
// crds/interceptpolicies.detour.dev.yaml and crds/clusterinterceptpolicies.detour.dev.yaml are the
// source of truth; these types follow them. Plain JSON, never through client-node's ObjectSerializer.

import type { InterceptMode } from '../routing/table.js';

export const INTERCEPT_POLICY_KIND = 'InterceptPolicy';
export const INTERCEPT_POLICY_PLURAL = 'interceptpolicies';
export const CLUSTER_INTERCEPT_POLICY_KIND = 'ClusterInterceptPolicy';
export const CLUSTER_INTERCEPT_POLICY_PLURAL = 'clusterinterceptpolicies';

export type PolicyKind = typeof INTERCEPT_POLICY_KIND | typeof CLUSTER_INTERCEPT_POLICY_KIND;

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface ServiceAccountSubject {
  namespace: string;
  name: string;
}

/** Who a policy speaks for; a creator matches when any list names them. */
export interface PolicySubjects {
  users?: string[];
  groups?: string[];
  serviceAccounts?: ServiceAccountSubject[];
}

/** Which workloads a policy selects; every part given must hold. */
export interface WorkloadSelection {
  /** Globs on the workload's name (`*` any run of characters, `?` one). */
  names?: string[];
  kinds?: Array<'Deployment' | 'StatefulSet' | 'ReplicaSet'>;
  /** On the workload's own labels (metadata.labels of the Deployment, StatefulSet or ReplicaSet). */
  selector?: LabelSelector;
}

/** A header rule every Intercept the policy allows must contain. */
export interface RequiredHeader {
  /** Header name, case-insensitive. */
  name: string;
  /** The Intercept's rule must be `exact` with the creator's username as its value (routes stay personal). */
  valueEqualsCreator?: boolean;
  /** The Intercept's rule must be `exact` (or `prefix`) with a value this RE2 pattern matches as a whole. */
  valueRegex?: string;
}

export interface DestinationRule {
  /** An IPv4 or IPv6 CIDR (`10.0.0.0/8`), matched against the address dialled. */
  cidr?: string;
  /** A host name; `*.example.svc` matches any name below it. Case-insensitive. */
  host?: string;
  /** A port; alone it matches every host on it, with cidr/host it narrows them. */
  port?: number;
}

export interface OutboundRules {
  /** Whether mode Outbound (detour run) is allowed at all. Default false once a policy applies. */
  allowed?: boolean;
  /** When given, only these destinations (any rule matching) may be dialled. */
  allow?: DestinationRule[];
  /** These destinations are never dialled (wins over allow). */
  block?: DestinationRule[];
}

export interface WithholdRules {
  /** Env variable names (globs) detour env / detour run leave out. */
  env?: string[];
  /** Volume names whose files detour run leaves out. */
  volumes?: string[];
}

export interface InterceptPolicySpec {
  workloads?: WorkloadSelection;
  /** ClusterInterceptPolicy only: which namespaces (by their labels); absent: every namespace. */
  namespaceSelector?: LabelSelector;
  subjects: PolicySubjects;
  /** Modes allowed; absent: Steal and Mirror. */
  modes?: InterceptMode[];
  /** Whether a global intercept (no match) is allowed; default false. */
  allowGlobal?: boolean;
  requiredHeaders?: RequiredHeader[];
  /** Longest ttl allowed (Go duration); an Intercept without ttl then gets defaultTtl, else is refused. */
  maxTtl?: string;
  /** ttl given at admission to an Intercept that has none. */
  defaultTtl?: string;
  /** Whether spec.connectors may name other people; default false. */
  allowConnectors?: boolean;
  outbound?: OutboundRules;
  withhold?: WithholdRules;
}

export interface PolicyObject {
  apiVersion?: string;
  kind: PolicyKind;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; generation?: number };
  spec: InterceptPolicySpec;
}

/** `InterceptPolicy shop/devs` or `ClusterInterceptPolicy platform`: how messages name a policy. */
export function describePolicy(p: Pick<PolicyObject, 'kind' | 'metadata'>): string {
  return p.kind === INTERCEPT_POLICY_KIND ? `${p.kind} ${p.metadata.namespace ?? ''}/${p.metadata.name}` : `${p.kind} ${p.metadata.name}`;
}
