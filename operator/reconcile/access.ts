// Access to one Intercept (pure): a Role that grants `get` on that Intercept's token Secret alone
// (resourceNames), and a RoleBinding of it to the creator admission recorded and to the
// connectors the spec names. Both are owned by the Intercept (garbage-collected with it). This is
// what lets the chart's developer ClusterRole drop `get secrets`: reading a token — which is what
// joining an intercept takes — is granted per Intercept, never namespace-wide (docs/policy.md).

import { API_GROUP, API_VERSION, INTERCEPT_NAME_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../core/constants.js';
import { tokenSecretName, type Intercept, type InterceptConnector } from '../../core/api/intercept.js';
import { readCreator, serviceAccountOf } from '../../core/policy/creator.js';

export interface RbacSubject {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  apiGroup?: string;
  namespace?: string;
}

export interface AccessObjects {
  role: { apiVersion: 'rbac.authorization.k8s.io/v1'; kind: 'Role'; metadata: AccessMeta; rules: Array<{ apiGroups: string[]; resources: string[]; resourceNames: string[]; verbs: string[] }> };
  /** Undefined when nobody is to be bound (an Intercept from before creators were recorded, without connectors). */
  roleBinding?: { apiVersion: 'rbac.authorization.k8s.io/v1'; kind: 'RoleBinding'; metadata: AccessMeta; roleRef: { apiGroup: string; kind: 'Role'; name: string }; subjects: RbacSubject[] };
}

interface AccessMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ownerReferences: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller: boolean; blockOwnerDeletion: boolean }>;
}

/** The Role and RoleBinding are named like the token Secret they are about. */
export function accessName(interceptName: string): string {
  return tokenSecretName(interceptName);
}

function subjectOfUsername(username: string): RbacSubject {
  const sa = serviceAccountOf(username);
  return sa ? { kind: 'ServiceAccount', name: sa.name, namespace: sa.namespace } : { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: username };
}

function subjectOfConnector(c: InterceptConnector, namespace: string): RbacSubject {
  if (c.kind === 'ServiceAccount') return { kind: 'ServiceAccount', name: c.name, namespace: c.namespace ?? namespace };
  return { kind: c.kind, apiGroup: 'rbac.authorization.k8s.io', name: c.name };
}

/** Who may read the token: the recorded creator (never their groups) and the connectors, each once. */
export function planAccessSubjects(i: Intercept): RbacSubject[] {
  const creator = readCreator(i.metadata.annotations);
  const all = [
    ...(creator ? [subjectOfUsername(creator.username)] : []),
    ...(i.spec.connectors ?? []).map((c) => subjectOfConnector(c, i.metadata.namespace)),
  ];
  const seen = new Set<string>();
  return all.filter((s) => {
    const k = `${s.kind}/${s.namespace ?? ''}/${s.name}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function planAccess(i: Intercept): AccessObjects {
  const name = accessName(i.metadata.name);
  const metadata: AccessMeta = {
    name,
    namespace: i.metadata.namespace,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [INTERCEPT_NAME_LABEL]: i.metadata.name },
    ownerReferences: [{ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Intercept', name: i.metadata.name, uid: i.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
  };
  const role: AccessObjects['role'] = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata,
    rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [tokenSecretName(i.metadata.name)], verbs: ['get'] }],
  };
  const subjects = planAccessSubjects(i);
  if (subjects.length === 0) return { role };
  return { role, roleBinding: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects } };
}
