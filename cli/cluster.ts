// Reads and writes against the cluster, each failure explained (verb, resource, namespace).

import type { Intercept } from '../core/api/intercept.js';
import { tokenSecretName, TOKEN_SECRET_KEY } from '../core/api/intercept.js';
import { API_GROUP, API_VERSION, INTERCEPT_PLURAL } from '../core/constants.js';
import { CliError } from './errors.js';
import { resourcePath, statusOf, type Kube } from './kube.js';
import type { PodJson } from './replicas.js';
import type { WorkloadRef } from './spec.js';
import { workloadResource, type WorkloadJson } from './workload.js';

export const INTERCEPTS = `${INTERCEPT_PLURAL}.${API_GROUP}`;

export const interceptPath = (ns: string | undefined, name?: string) => resourcePath(API_GROUP, API_VERSION, INTERCEPT_PLURAL, ns, name);

/** Fails with "Detour is not installed" when the cluster does not serve the Intercept API. */
export async function ensureDetourInstalled(kube: Kube): Promise<void> {
  try {
    await kube.request('GET', `/apis/${API_GROUP}/${API_VERSION}`);
  } catch (err) {
    if (statusOf(err) === 404) {
      throw new CliError(`Detour is not installed in this cluster (context ${kube.context}): the API ${API_GROUP}/${API_VERSION} (CRD ${INTERCEPTS}) does not exist. Install it with the Helm chart: helm install detour charts/detour -n detour-system --create-namespace`);
    }
    await kube.call({ verb: 'get', resource: `${API_GROUP} API` }, 'GET', `/apis/${API_GROUP}/${API_VERSION}`);
  }
}

export async function fetchWorkload(kube: Kube, ns: string, ref: WorkloadRef): Promise<WorkloadJson> {
  const { group, plural, resource } = workloadResource(ref.kind);
  try {
    return await kube.request<WorkloadJson>('GET', resourcePath(group, 'v1', plural, ns, ref.name));
  } catch (err) {
    if (statusOf(err) !== 404) return kube.call({ verb: 'get', resource, namespace: ns, name: ref.name }, 'GET', resourcePath(group, 'v1', plural, ns, ref.name));
    const others = await kube.request<{ items: WorkloadJson[] }>('GET', resourcePath(group, 'v1', plural, ns)).then((l) => l.items.map((i) => i.metadata.name)).catch(() => undefined);
    const hint = others === undefined ? '' : others.length ? ` (${ref.kind}s there: ${others.slice(0, 10).join(', ')}${others.length > 10 ? ', …' : ''})` : ` (there are no ${ref.kind}s there)`;
    throw new CliError(`no ${ref.kind} "${ref.name}" in namespace ${ns}${hint}`);
  }
}

export async function fetchIntercept(kube: Kube, ns: string, name: string): Promise<Intercept | undefined> {
  try {
    return await kube.request<Intercept>('GET', interceptPath(ns, name));
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    return kube.call({ verb: 'get', resource: INTERCEPTS, namespace: ns, name }, 'GET', interceptPath(ns, name));
  }
}

export async function requireIntercept(kube: Kube, ns: string, name: string): Promise<Intercept> {
  const i = await fetchIntercept(kube, ns, name);
  if (!i) throw new CliError(`no Intercept "${name}" in namespace ${ns} (see "detour list -n ${ns}")`);
  return i;
}

export function createIntercept(kube: Kube, body: Intercept): Promise<Intercept> {
  const ns = body.metadata.namespace;
  return kube.call({ verb: 'create', resource: INTERCEPTS, namespace: ns, name: body.metadata.name }, 'POST', interceptPath(ns), { body, query: { fieldValidation: 'Strict' } });
}

/** Deletes the Intercept; false when it was already gone. */
export async function deleteIntercept(kube: Kube, ns: string, name: string): Promise<boolean> {
  try {
    await kube.request('DELETE', interceptPath(ns, name));
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    await kube.call({ verb: 'delete', resource: INTERCEPTS, namespace: ns, name }, 'DELETE', interceptPath(ns, name));
    return true;
  }
}

export async function listIntercepts(kube: Kube, ns: string | undefined): Promise<Intercept[]> {
  const list = await kube.call<{ items: Intercept[] }>({ verb: 'list', resource: INTERCEPTS, ...(ns ? { namespace: ns } : {}) }, 'GET', interceptPath(ns));
  return list.items.sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
}

/** The Intercept's tunnel token, from the Secret the operator minted (undefined while it does not exist yet). */
export async function fetchToken(kube: Kube, i: Intercept): Promise<string | undefined> {
  const ns = i.metadata.namespace;
  const name = i.status?.tokenSecretName ?? tokenSecretName(i.metadata.name);
  const path = resourcePath('', 'v1', 'secrets', ns, name);
  let secret: { data?: Record<string, string> };
  try {
    secret = await kube.request('GET', path);
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    secret = await kube.call({ verb: 'get', resource: 'secrets', namespace: ns, name }, 'GET', path);
  }
  const b64 = secret.data?.[TOKEN_SECRET_KEY];
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
}

export async function listPods(kube: Kube, ns: string, labelSelector: string): Promise<PodJson[]> {
  const list = await kube.call<{ items: PodJson[] }>({ verb: 'list', resource: 'pods', namespace: ns }, 'GET', resourcePath('', 'v1', 'pods', ns), { query: { labelSelector } });
  return list.items;
}
