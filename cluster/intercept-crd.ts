// The Intercept CRD in a cluster: applied from crds/ and waited on until it is served (the
// integration suites, the bench), and the REST path of Intercepts.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { resourcePath, type KubeClient } from '../core/kube/client.js';
import { eventually } from './kube.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CRD_PATH = join(repo, 'crds/intercepts.detour.dev.yaml');

export async function applyInterceptCrd(client: KubeClient): Promise<void> {
  const crd = parse(readFileSync(CRD_PATH, 'utf8')) as { metadata: { name: string } };
  const path = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  try {
    const existing = await client.request<{ metadata: { resourceVersion: string } }>('GET', `${path}/${crd.metadata.name}`);
    await client.request('PUT', `${path}/${crd.metadata.name}`, { body: { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata.resourceVersion } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
    await client.request('POST', path, { body: crd });
  }
  await eventually('the Intercept CRD to be established', async () => {
    const c = await client.request<{ status?: { conditions?: Array<{ type: string; status: string }> } }>('GET', `${path}/${crd.metadata.name}`);
    return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ? true : undefined;
  });
  // Discovery of the new resource can lag Established by a moment.
  await eventually('intercepts to be served', async () => client.request('GET', '/apis/detour.dev/v1alpha1/intercepts').then(() => true));
}

export const interceptsPath = (ns: string, name?: string, sub?: string) => resourcePath('detour.dev', 'v1alpha1', 'intercepts', ns, name, sub);
