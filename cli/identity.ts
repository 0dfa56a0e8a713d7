// Who the developer is to Kubernetes, for an Intercept's `spec.owner` when --owner is not given.
// SelfSubjectReview (authentication.k8s.io/v1, Kubernetes 1.28+, allowed to every authenticated
// user) returns the username the API server authenticated, whatever the credential (client
// certificate, token, exec plugin, OIDC). Without it (older cluster, refused) the kubeconfig's user
// entry name of the current context stands in, then the local OS user. `owner` is a display name:
// admission records the real creator in detour.dev/creator (docs/policy.md).

import type { Kube } from './kube.js';

export interface OwnerSources {
  /** `status.userInfo.username` of a SelfSubjectReview, when the API server answered one. */
  reviewed?: string;
  /** The `user` of the kubeconfig's current context. */
  kubeconfigUser?: string;
  /** The local OS user. */
  osUser: string;
}

/** The owner to record: the authenticated username, else the kubeconfig user name, else the OS user. */
export function planOwner(s: OwnerSources): string {
  for (const v of [s.reviewed, s.kubeconfigUser]) if (v !== undefined && v.trim() !== '') return v.trim();
  return s.osUser;
}

interface SelfSubjectReview {
  status?: { userInfo?: { username?: string } };
}

/** The username the API server authenticates this CLI as, or undefined when it cannot say. */
export async function fetchReviewedUsername(kube: Kube): Promise<string | undefined> {
  try {
    const r = await kube.request<SelfSubjectReview>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    const name = r.status?.userInfo?.username;
    return typeof name === 'string' && name !== '' ? name : undefined;
  } catch {
    return undefined; // 404 (before 1.28), 403: fall back to the kubeconfig's user name
  }
}

export async function resolveOwner(kube: Kube, osUser: string): Promise<string> {
  const reviewed = await fetchReviewedUsername(kube);
  return planOwner({ ...(reviewed !== undefined ? { reviewed } : {}), ...(kube.user !== undefined ? { kubeconfigUser: kube.user } : {}), osUser });
}
