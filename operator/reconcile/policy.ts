// Policy enforcement by the operator (pure): the verdict of core/policy for one Intercept, from
// the policies and labels the reconciler gathered. Admission already refused what the policies
// forbade when the Intercept was written; this catches policies that changed afterwards. A denied
// Intercept is not routed (Routed=False, reason PolicyDenied, naming the policy and rule); when
// the policy goes or allows it again, it routes again.

import type { Intercept } from '../../core/api/intercept.js';
import { readCreator } from '../../core/policy/creator.js';
import { evaluatePolicies, type PolicyVerdict } from '../../core/policy/evaluate.js';
import { CLUSTER_INTERCEPT_POLICY_KIND, INTERCEPT_POLICY_KIND, type PolicyObject } from '../../core/policy/types.js';

export interface PolicyGathered {
  /** The InterceptPolicies of the Intercept's namespace. */
  namespaced: readonly PolicyObject[];
  clusterWide: readonly PolicyObject[];
  workloadLabels?: Record<string, string>;
  namespaceLabels?: Record<string, string>;
}

/** Whether the namespace's labels are needed (a ClusterInterceptPolicy selects namespaces by label). */
export function needsNamespaceLabels(clusterWide: readonly PolicyObject[]): boolean {
  return clusterWide.some((p) => p.spec.namespaceSelector !== undefined);
}

export function planPolicyVerdict(i: Intercept, g: PolicyGathered): PolicyVerdict {
  // Objects from a list may come without kind: the informer they came from says which they are.
  const policies = [
    ...g.namespaced.map((p) => ({ ...p, kind: INTERCEPT_POLICY_KIND } as PolicyObject)),
    ...g.clusterWide.map((p) => ({ ...p, kind: CLUSTER_INTERCEPT_POLICY_KIND } as PolicyObject)),
  ];
  return evaluatePolicies({
    namespace: i.metadata.namespace,
    spec: i.spec,
    creator: readCreator(i.metadata.annotations),
    workload: { kind: i.spec.workload.kind, name: i.spec.workload.name, ...(g.workloadLabels ? { labels: g.workloadLabels } : {}) },
    ...(g.namespaceLabels ? { namespaceLabels: g.namespaceLabels } : {}),
    policies,
  });
}
