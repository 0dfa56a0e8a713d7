// Gathers what Intercept admission needs (I/O): the InterceptPolicies of the namespace, every
// ClusterInterceptPolicy, and — only when some policy could select by labels — the labels of the
// workload and of the namespace. Read per admission: Intercepts are created rarely, and a fresh
// read means a policy applied a moment ago already counts (no cache to lag behind git).

import { API_GROUP, API_VERSION } from '../core/constants.js';
import { resourcePath, type KubeClient } from '../core/kube/client.js';
import { CLUSTER_INTERCEPT_POLICY_KIND, CLUSTER_INTERCEPT_POLICY_PLURAL, INTERCEPT_POLICY_KIND, INTERCEPT_POLICY_PLURAL, type PolicyObject } from '../core/policy/types.js';
import { WORKLOAD_PLURALS, type WorkloadName } from '../core/workload-ref.js';
import type { PolicyContext } from './intercept-admission.js';

interface Labelled { metadata?: { labels?: Record<string, string> } }

async function labelsOf(client: KubeClient, path: string): Promise<Record<string, string> | undefined> {
  try {
    return (await client.request<Labelled>('GET', path)).metadata?.labels ?? {};
  } catch (err) {
    if ((err as { code?: unknown }).code === 404) return undefined; // a workload that does not exist yet has no labels
    throw err;
  }
}

/** Reads the policies (and labels when needed). Throws on API errors: the caller refuses (fail closed). */
export async function fetchPolicyContext(client: KubeClient, namespace: string, workload: WorkloadName): Promise<PolicyContext> {
  const [namespaced, cluster] = await Promise.all([
    client.request<{ items: PolicyObject[] }>('GET', resourcePath(API_GROUP, API_VERSION, INTERCEPT_POLICY_PLURAL, namespace)),
    client.request<{ items: PolicyObject[] }>('GET', resourcePath(API_GROUP, API_VERSION, CLUSTER_INTERCEPT_POLICY_PLURAL)),
  ]);
  const policies = [
    ...namespaced.items.map((p) => ({ ...p, kind: INTERCEPT_POLICY_KIND } as PolicyObject)),
    ...cluster.items.map((p) => ({ ...p, kind: CLUSTER_INTERCEPT_POLICY_KIND } as PolicyObject)),
  ];
  if (policies.length === 0) return { policies };
  const needsWorkload = policies.some((p) => p.spec.workloads?.selector);
  const needsNamespace = policies.some((p) => p.kind === CLUSTER_INTERCEPT_POLICY_KIND && p.spec.namespaceSelector);
  const [workloadLabels, namespaceLabels] = await Promise.all([
    needsWorkload ? labelsOf(client, resourcePath('apps', 'v1', WORKLOAD_PLURALS[workload.kind], namespace, workload.name)) : undefined,
    needsNamespace ? labelsOf(client, resourcePath('', 'v1', 'namespaces', undefined, namespace)) : undefined,
  ]);
  return { policies, ...(workloadLabels ? { workloadLabels } : {}), ...(namespaceLabels ? { namespaceLabels } : {}) };
}
