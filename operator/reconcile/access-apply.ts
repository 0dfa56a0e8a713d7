// Applies an Intercept's access objects (I/O): creates the Role and RoleBinding of planAccess, or
// updates them when they differ. Remembers what it last applied per Intercept, so a reconcile that
// changes nothing costs no request; the memory is per process (a new leader applies once).

import { resourcePath, type KubeClient } from '../../core/kube/client.js';
import { classifyApiError } from '../../core/errors.js';
import { canonicalJson } from '../canonical-json.js';
import type { AccessObjects } from './access.js';

type Obj = { metadata: { name: string; namespace: string; resourceVersion?: string; ownerReferences?: unknown; labels?: unknown } } & Record<string, unknown>;

async function ensureObject(client: KubeClient, plural: 'roles' | 'rolebindings', want: Obj, compare: (live: Obj) => boolean): Promise<'created' | 'updated' | 'unchanged'> {
  const path = resourcePath('rbac.authorization.k8s.io', 'v1', plural, want.metadata.namespace);
  let live: Obj | undefined;
  try {
    live = await client.request<Obj>('GET', `${path}/${encodeURIComponent(want.metadata.name)}`);
  } catch (err) {
    if (classifyApiError(err) !== 'not-found') throw err;
  }
  if (!live) {
    await client.request('POST', path, { body: want });
    return 'created';
  }
  if (compare(live)) return 'unchanged';
  await client.request('PUT', `${path}/${encodeURIComponent(want.metadata.name)}`, { body: { ...want, metadata: { ...want.metadata, resourceVersion: live.metadata.resourceVersion } } });
  return 'updated';
}

export class AccessApplier {
  private readonly applied = new Map<string, string>();

  constructor(private readonly client: KubeClient) {}

  /** Returns what changed (for the log), or undefined when nothing had to be done. */
  async ensure(key: string, want: AccessObjects): Promise<string | undefined> {
    const fingerprint = canonicalJson(want);
    if (this.applied.get(key) === fingerprint) return undefined;
    const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);
    const role = await ensureObject(this.client, 'roles', want.role as unknown as Obj, (live) => same(live.rules, want.role.rules));
    let binding: string = 'none';
    if (want.roleBinding) {
      const rb = want.roleBinding;
      binding = await ensureObject(this.client, 'rolebindings', rb as unknown as Obj, (live) => same(live.subjects, rb.subjects) && same(live.roleRef, rb.roleRef));
    } else {
      try {
        await this.client.request('DELETE', resourcePath('rbac.authorization.k8s.io', 'v1', 'rolebindings', want.role.metadata.namespace, want.role.metadata.name));
        binding = 'deleted';
      } catch (err) {
        if (classifyApiError(err) !== 'not-found') throw err;
      }
    }
    this.applied.set(key, fingerprint);
    return role === 'unchanged' && (binding === 'unchanged' || binding === 'none') ? undefined : `role ${role}, binding ${binding}`;
  }

  forget(key: string): void {
    this.applied.delete(key);
  }
}
