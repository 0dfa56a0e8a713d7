// The operator's informer against the real API server: its first watch asks for a resourceVersion
// the server no longer has (410 Gone, "too old resource version"), and it recovers by relisting.
// The client is the real one; the test only rewrites that first watch's resourceVersion and makes
// changes between the list and the watch that the informer can learn of only by relisting.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { applyInterceptCrd, buildKubeClient, createIntercept, interceptsPath } from './support/operator-harness.js';
import { MERGE_PATCH, type KubeClient } from '../../core/kube/client.js';
import { buildLogger } from '../../core/logging.js';
import { Informer, type KubeObject } from '../../operator/runtime/informer.js';

const kc = loadKubeConfig();
let client: KubeClient;
let ns: string;
const spec = (user: string) => ({ workload: { kind: 'Deployment', name: 'checkout' }, match: { headers: [{ name: 'x-detour-user', exact: user }] } });

beforeAll(async () => {
  client = buildKubeClient(kc);
  await applyInterceptCrd(client);
  ns = await createNamespace(kc, 'informer');
});

afterAll(async () => {
  await deleteNamespace(kc, ns);
  client.close();
});

it('relists when its watch is too old (410 Gone) and hands the handler what changed meanwhile', async () => {
  await createIntercept(client, ns, 'kept', spec('kept'));
  await createIntercept(client, ns, 'doomed', spec('doomed'));
  const seen: string[] = [];
  const watchResourceVersions: string[] = [];
  let first = true;
  const informer = new Informer<KubeObject>({
    name: 'intercepts',
    path: interceptsPath(ns),
    logger: buildLogger({ name: 'test', level: 'silent' }),
    backoffInitialMs: 50,
    client: {
      request: (method, path, input) => client.request(method, path, input),
      async stream(path, query, onObject, signal) {
        if (first) {
          first = false;
          // What happens between the list and the watch; then a watch from long ago.
          await createIntercept(client, ns, 'unseen', spec('unseen'));
          await client.request('DELETE', interceptsPath(ns, 'doomed'));
          await client.request('PATCH', interceptsPath(ns, 'kept'), { contentType: MERGE_PATCH, body: { metadata: { labels: { touched: 'yes' } } } });
          query = { ...query, resourceVersion: '1' };
        }
        watchResourceVersions.push(String(query?.resourceVersion));
        return client.stream(path, query, onObject, signal);
      },
    },
    handlers: {
      onAdd: (o) => seen.push(`add ${o.metadata.name}`),
      onUpdate: (_a, b) => seen.push(`update ${b.metadata.name}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
    },
  });
  informer.start();
  try {
    await eventually('the informer to relist', async () => (informer.lists >= 2 && watchResourceVersions.length >= 2 ? true : undefined));
    expect(informer.lists).toBe(2);
    expect(seen.slice(0, 2).sort()).toEqual(['add doomed', 'add kept']);
    expect(seen.slice(2).sort()).toEqual(['add unseen', 'delete doomed', 'update kept']);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['kept', 'unseen']);
    expect(watchResourceVersions[1]).not.toBe('1'); // the second watch starts from the relist

    // And the new watch delivers what comes next, without another relist.
    await createIntercept(client, ns, 'later', spec('later'));
    await eventually('the watch to deliver the new intercept', async () => (informer.get(`${ns}/later`) ? true : undefined));
    expect(seen[seen.length - 1]).toBe('add later');
    expect(informer.lists).toBe(2);
  } finally {
    await informer.stop();
  }
});
