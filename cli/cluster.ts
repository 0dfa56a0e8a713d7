// Reads and writes against the cluster, each failure explained (verb, resource, namespace).

import type { Intercept } from '../core/api/intercept.js';
import { tokenSecretName, TOKEN_SECRET_KEY } from '../core/api/intercept.js';
import { API_GROUP, API_VERSION, INTERCEPT_PLURAL } from '../core/constants.js';
import type { WorkloadName } from '../core/workload-ref.js';
import { CliError, type ApiAction } from './errors.js';
import { resourcePath, statusOf, type Kube } from './kube.js';
import type { PodJson } from './replicas.js';
import { workloadResource, type WorkloadJson } from './workload.js';

const INTERCEPTS = `${INTERCEPT_PLURAL}.${API_GROUP}`;

const interceptPath = (ns: string | undefined, name?: string) => resourcePath(API_GROUP, API_VERSION, INTERCEPT_PLURAL, ns, name);

/** kube.call, but undefined when the object does not exist (404) instead of an error. */
async function callUnlessMissing<T>(kube: Kube, action: ApiAction, method: string, path: string): Promise<T | undefined> {
  try {
    return await kube.call<T>(action, method, path);
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Fails with "Detour is not installed" when the cluster does not serve the Intercept API. */
export async function ensureDetourInstalled(kube: Kube): Promise<void> {
  const group = await callUnlessMissing(kube, { verb: 'get', resource: `${API_GROUP} API` }, 'GET', `/apis/${API_GROUP}/${API_VERSION}`);
  if (group === undefined) {
    throw new CliError(`Detour is not installed in this cluster (context ${kube.context}): the API ${API_GROUP}/${API_VERSION} (CRD ${INTERCEPTS}) does not exist. Install it with the Helm chart: helm install detour charts/detour -n detour-system --create-namespace`);
  }
}

export async function fetchWorkload(kube: Kube, ns: string, ref: WorkloadName): Promise<WorkloadJson> {
  const { group, plural, resource } = workloadResource(ref.kind);
  const workload = await callUnlessMissing<WorkloadJson>(kube, { verb: 'get', resource, namespace: ns, name: ref.name }, 'GET', resourcePath(group, 'v1', plural, ns, ref.name));
  if (workload) return workload;
  const others = await kube.request<{ items: WorkloadJson[] }>('GET', resourcePath(group, 'v1', plural, ns)).then((l) => l.items.map((i) => i.metadata.name)).catch(() => undefined);
  const hint = others === undefined ? '' : others.length ? ` (${ref.kind}s there: ${others.slice(0, 10).join(', ')}${others.length > 10 ? ', …' : ''})` : ` (there are no ${ref.kind}s there)`;
  throw new CliError(`no ${ref.kind} "${ref.name}" in namespace ${ns}${hint}`);
}

export function fetchIntercept(kube: Kube, ns: string, name: string): Promise<Intercept | undefined> {
  return callUnlessMissing<Intercept>(kube, { verb: 'get', resource: INTERCEPTS, namespace: ns, name }, 'GET', interceptPath(ns, name));
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
    await kube.call({ verb: 'delete', resource: INTERCEPTS, namespace: ns, name }, 'DELETE', interceptPath(ns, name));
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw err;
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
  const secret = await callUnlessMissing<{ data?: Record<string, string> }>(kube, { verb: 'get', resource: 'secrets', namespace: ns, name }, 'GET', path);
  const b64 = secret?.data?.[TOKEN_SECRET_KEY];
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
}

export async function listPods(kube: Kube, ns: string, labelSelector: string): Promise<PodJson[]> {
  const list = await kube.call<{ items: PodJson[] }>({ verb: 'list', resource: 'pods', namespace: ns }, 'GET', resourcePath('', 'v1', 'pods', ns), { query: { labelSelector } });
  return list.items;
}
