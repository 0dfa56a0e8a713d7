// What `detour env` and `detour run` leave out because a policy says so (policy `withhold`). The
// rules of every policy that selects the workload count, whoever the developer is (stricter than
// "the policy that allows you": env is read without an Intercept). ClusterInterceptPolicies whose
// namespaceSelector the CLI cannot check (developers may not read namespaces) count too.
// Client-side and advisory: the developer's RBAC decides what they can read at all.

import { API_GROUP, API_VERSION } from '../core/constants.js';
import { isEnvWithheld, isVolumeWithheld } from '../core/policy/destinations.js';
import { selectPolicies } from '../core/policy/evaluate.js';
import { CLUSTER_INTERCEPT_POLICY_KIND, CLUSTER_INTERCEPT_POLICY_PLURAL, INTERCEPT_POLICY_KIND, INTERCEPT_POLICY_PLURAL, type PolicyObject, type WithholdRules } from '../core/policy/types.js';
import type { WorkloadKind } from '../core/workload-ref.js';
import type { ResolvedEnv } from './env.js';
import { resourcePath, type Kube } from './kube.js';

/** The withhold rules of the policies that select the workload (pure). */
export function planWithholdRules(policies: readonly PolicyObject[], namespace: string, workload: { kind: WorkloadKind; name: string; labels?: Record<string, string> }): WithholdRules[] {
  const unscoped = policies.map((p) => (p.kind === CLUSTER_INTERCEPT_POLICY_KIND ? { ...p, spec: { ...p.spec, namespaceSelector: undefined } } : p));
  return selectPolicies({ namespace, workload, policies: unscoped }).flatMap((p) => (p.spec.withhold ? [p.spec.withhold] : []));
}

/** The env without the withheld names (pure); `withheld` lists them, values never. */
export function applyWithheldEnv(env: ResolvedEnv, rules: readonly WithholdRules[]): { env: ResolvedEnv; withheld: string[] } {
  const withheld = env.vars.filter((v) => isEnvWithheld(rules, v.name)).map((v) => v.name);
  return {
    env: { vars: env.vars.filter((v) => !isEnvWithheld(rules, v.name)), unresolved: env.unresolved.filter((u) => !isEnvWithheld(rules, u.name)) },
    withheld,
  };
}

export function isMountWithheld(rules: readonly WithholdRules[], volumeName: string): boolean {
  return isVolumeWithheld(rules, volumeName);
}

/** Reads the policies the developer may read (403 or a missing CRD: none of that kind). */
export async function fetchWithholdRules(kube: Kube, namespace: string, workload: { kind: WorkloadKind; name: string; labels?: Record<string, string> }): Promise<WithholdRules[]> {
  const list = async (plural: string, kind: PolicyObject['kind'], ns?: string): Promise<PolicyObject[]> => {
    try {
      const r = await kube.request<{ items: PolicyObject[] }>('GET', resourcePath(API_GROUP, API_VERSION, plural, ns));
      return r.items.map((p) => ({ ...p, kind }));
    } catch {
      return [];
    }
  };
  const [namespaced, clusterWide] = await Promise.all([list(INTERCEPT_POLICY_PLURAL, INTERCEPT_POLICY_KIND, namespace), list(CLUSTER_INTERCEPT_POLICY_PLURAL, CLUSTER_INTERCEPT_POLICY_KIND)]);
  return planWithholdRules([...namespaced, ...clusterWide], namespace, workload);
}
