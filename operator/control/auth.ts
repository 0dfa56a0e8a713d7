// Authenticates a sidecar's control-channel connection: the projected service-account token
// (audience "detour") goes through TokenReview; the bound pod named in the token must exist with
// the same uid and service account; its controller chain (each owner checked by uid) names the
// workload it belongs to.

import { TOKEN_AUDIENCE } from '../../core/constants.js';
import type { WorkloadRef } from '../../core/routing/table.js';
import type { ObjectMeta } from '../../core/api/intercept.js';
import { classifyApiError } from '../../core/errors.js';
import { resourcePath, type KubeClient } from '../../core/kube/client.js';

export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';

export interface SidecarIdentity {
  namespace: string;
  pod: string;
  workload: WorkloadRef;
}

export class AuthError extends Error {
  constructor(readonly status: 401 | 403, message: string) {
    super(message);
  }
}

interface TokenReview {
  status?: { authenticated?: boolean; audiences?: string[]; user?: { username?: string; extra?: Record<string, string[]> }; error?: string };
}

interface Owned { metadata: ObjectMeta; spec?: { serviceAccountName?: string } }

interface ControllerRef { apiVersion?: string; kind: string; name: string; uid?: string }

function controllerOf(o: Owned): ControllerRef | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller);
}

const PLURAL = { ReplicaSet: 'replicasets', StatefulSet: 'statefulsets', Deployment: 'deployments' } as const;

/**
 * The owner the reference names, only when it exists in the `apps` group with the uid the reference
 * carries: an ownerReference is written by whoever creates the object, so a name alone proves
 * nothing (a pod could name another team's Deployment's ReplicaSet and receive its routes).
 */
async function fetchOwner(client: KubeClient, namespace: string, ref: ControllerRef, kind: keyof typeof PLURAL): Promise<Owned | undefined> {
  if (ref.kind !== kind || ref.apiVersion !== 'apps/v1' || !ref.uid) return undefined;
  let owner: Owned;
  try {
    owner = await client.request<Owned>('GET', resourcePath('apps', 'v1', PLURAL[kind], namespace, ref.name));
  } catch (err) {
    if (classifyApiError(err) === 'not-found') return undefined;
    throw err;
  }
  return owner.metadata.uid === ref.uid ? owner : undefined;
}

/**
 * The workload a pod belongs to, following its controller references (Pod → ReplicaSet → Deployment,
 * Pod → StatefulSet) and checking at every step that the owner exists with the referenced uid.
 * Undefined when the chain does not hold.
 */
export async function resolvePodWorkload(client: KubeClient, namespace: string, pod: Owned): Promise<WorkloadRef | undefined> {
  const owner = controllerOf(pod);
  if (!owner) return undefined;
  if (owner.kind === 'StatefulSet') {
    return (await fetchOwner(client, namespace, owner, 'StatefulSet')) ? { kind: 'StatefulSet', namespace, name: owner.name } : undefined;
  }
  const rs = await fetchOwner(client, namespace, owner, 'ReplicaSet');
  if (!rs) return undefined;
  const top = controllerOf(rs);
  if (!top) return { kind: 'ReplicaSet', namespace, name: owner.name };
  if (top.kind !== 'Deployment') return undefined;
  return (await fetchOwner(client, namespace, top, 'Deployment')) ? { kind: 'Deployment', namespace, name: top.name } : undefined;
}

export async function authenticateSidecar(client: KubeClient, token: string): Promise<SidecarIdentity> {
  const review = await client.request<TokenReview>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [TOKEN_AUDIENCE] } },
  });
  const st = review.status;
  if (!st?.authenticated) throw new AuthError(401, 'token not authenticated');
  if (st.audiences && !st.audiences.includes(TOKEN_AUDIENCE)) throw new AuthError(401, `token audience is not ${TOKEN_AUDIENCE}`);
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(st.user?.username ?? '');
  if (!m) throw new AuthError(403, 'token does not belong to a service account');
  const [, namespace, serviceAccount] = m as unknown as [string, string, string];
  const podName = st.user?.extra?.[POD_NAME_EXTRA]?.[0];
  const podUid = st.user?.extra?.[POD_UID_EXTRA]?.[0];
  if (!podName) throw new AuthError(403, 'token is not bound to a pod');
  let pod: Owned;
  try {
    pod = await client.request<Owned>('GET', resourcePath('', 'v1', 'pods', namespace, podName));
  } catch (err) {
    if (classifyApiError(err) === 'not-found') throw new AuthError(403, `pod ${namespace}/${podName} does not exist`);
    throw err;
  }
  if (podUid && pod.metadata.uid !== podUid) throw new AuthError(403, `pod ${namespace}/${podName} was replaced`);
  if ((pod.spec?.serviceAccountName ?? 'default') !== serviceAccount) throw new AuthError(403, 'service account does not run the pod');
  const workload = await resolvePodWorkload(client, namespace, pod);
  if (!workload) throw new AuthError(403, `pod ${namespace}/${podName} belongs to no Deployment, StatefulSet or ReplicaSet (its controller references, checked by uid)`);
  return { namespace, pod: podName, workload };
}
