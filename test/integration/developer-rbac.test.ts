// Least privilege for developers, end to end: the real chart (installDetour), a ServiceAccount bound
// only to the chart's developer ClusterRole by a RoleBinding in one namespace, and the real CLI run
// with that ServiceAccount's kubeconfig. The developer intercepts a Deployment that has not opted
// in yet (the operator patches it, the developer may not), lists, inspects and leaves intercepts,
// and is refused — with a message naming verb and resource — everywhere the role does not reach.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AppsV1Api, AuthorizationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubeConfig, RbacAuthorizationV1Api, setHeaderOptions, type V1Pod,
} from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, INJECT_LABEL, INJECTED_ANNOTATION, INTERCEPT_PLURAL } from '../../core/constants.js';
import { assertCliBuilt, runCli, startCli, startLocalServer, type CliProcess, type LocalServer } from './support/cli.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { fullname, installDetour, type InstalledDetour } from '../../cluster/install-detour.js';
import { execInPod, isReady, waitForReadyPods } from '../../cluster/pods.js';

assertCliBuilt();
const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
const discovery = kc.makeApiClient(DiscoveryV1Api);

let detour: InstalledDetour;
let ns: string;
let otherNs: string;
let devKubeconfig: string;
let dev: KubeConfig;
let laptop: LocalServer;
let client: V1Pod;
const running: CliProcess[] = [];
const work = mkdtempSync(join(tmpdir(), 'detour-devrbac-'));

interface EchoAnswer { pod: string; path: string }

/** The README's shared service: 2 echo replicas, a Service targeting the named port, not opted in. */
async function createCheckout(namespace: string): Promise<void> {
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'checkout-config' }, data: { GREETING: 'hello from the cluster' } } });
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'checkout' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'checkout' } },
        template: {
          metadata: { labels: { app: 'checkout' } },
          spec: {
            containers: [{
              name: 'checkout', image: 'detour/echo',
              env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
              envFrom: [{ configMapRef: { name: 'checkout-config' } }],
              ports: [{ name: 'http', containerPort: 8080 }],
            }],
            terminationGracePeriodSeconds: 1,
          },
        },
      },
    },
  });
  await core.createNamespacedService({ namespace, body: { metadata: { name: 'checkout' }, spec: { selector: { app: 'checkout' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } } });
}

/** The developer's CLI: the ServiceAccount's kubeconfig and nothing else. */
const devCli = (args: string[]) => runCli(args, { KUBECONFIG: devKubeconfig });

/** The HTTP status of a request the developer makes with their own credentials (2xx: allowed). */
async function asDeveloper(request: () => Promise<unknown>): Promise<number> {
  try {
    await request();
    return 200;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

beforeAll(async () => {
  detour = await installDetour(kc, { values: { operator: { replicas: 1 } } });
  ns = await createNamespace(kc, 'devrbac');
  otherNs = await createNamespace(kc, 'devrbac-other');
  for (const n of [ns, otherNs]) {
    await eventually(`the default ServiceAccount in ${n}`, () => core.readNamespacedServiceAccount({ name: 'default', namespace: n }));
    await createCheckout(n);
  }
  // A Secret of the application that has nothing to do with Detour.
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'db-password' }, stringData: { password: 's3cret' } } });
  await core.createNamespacedSecret({ namespace: otherNs, body: { metadata: { name: 'db-password' }, stringData: { password: 'other' } } });

  // The developer: a ServiceAccount bound only to the chart's developer ClusterRole, in `ns` only.
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'dev' } } });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'dev-detour' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${fullname(detour.releaseName)}-developer` },
      subjects: [{ kind: 'ServiceAccount', name: 'dev', namespace: ns }],
    },
  });
  const token = (await core.createNamespacedServiceAccountToken({ name: 'dev', namespace: ns, body: { spec: { audiences: [], expirationSeconds: 3600 } } })).status!.token;
  const cluster = kc.getCurrentCluster()!;
  devKubeconfig = join(work, 'dev-kubeconfig');
  writeFileSync(devKubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'dev',
    clusters: [{ name: 'local', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } }],
    users: [{ name: 'dev', user: { token } }],
    contexts: [{ name: 'dev', context: { cluster: 'local', user: 'dev', namespace: ns } }],
  }), { mode: 0o600 });
  dev = new KubeConfig();
  dev.loadFromFile(devKubeconfig);

  await waitForReadyPods(kc, ns, 'app=checkout', 2, 120_000);
  // Stands for `kubectl run client ... curl` of the walkthrough: a pod that calls the Service.
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'client' }, spec: { containers: [{ name: 'client', image: 'detour/shell', command: ['sleep', '3600'] }], terminationGracePeriodSeconds: 1 } } });
  client = await eventually('the client pod', async () => {
    const p = await core.readNamespacedPod({ name: 'client', namespace: ns });
    return isReady(p) ? p : undefined;
  });
  laptop = await startLocalServer('laptop');
}, 300_000);

afterAll(async () => {
  for (const p of running) p.kill('SIGKILL');
  await laptop?.close();
  if (ns) await deleteNamespace(kc, ns);
  if (otherNs) await deleteNamespace(kc, otherNs);
  await detour?.uninstall();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('a developer bound only to the developer ClusterRole', () => {
  let cli: CliProcess;

  it('intercepts a Deployment that has not opted in: the operator opts it in, the developer could not have', async () => {
    // The developer may not patch the Deployment themselves...
    const devApps = dev.makeApiClient(AppsV1Api);
    expect(await asDeveloper(() => devApps.patchNamespacedDeployment(
      { name: 'checkout', namespace: ns, body: { spec: { template: { metadata: { labels: { [INJECT_LABEL]: 'true' } } } } } },
      setHeaderOptions('Content-Type', 'application/merge-patch+json'),
    ))).toBe(403);

    // ...and does not need to: the intercept works.
    cli = startCli(['intercept', 'checkout', '--header', 'x-detour-user=alice', '--to', `localhost:${laptop.port}`], { KUBECONFIG: devKubeconfig });
    running.push(cli);
    await cli.waitFor(/Using context dev, namespace devrbac-/);
    await cli.waitFor(/Creating Intercept alice-checkout/);
    await cli.waitFor(/Opting Deployment\/checkout in/);
    await cli.waitFor(/Serving 2\/2 replicas/, 180_000);
    expect(cli.output).not.toMatch(/forbidden|not allowed/i);
    const d = await apps.readNamespacedDeployment({ name: 'checkout', namespace: ns });
    expect(d.spec?.template?.metadata?.labels?.[INJECT_LABEL]).toBe('true');
  }, 240_000);

  it('requests with the header reach the laptop, the others reach the cluster', async () => {
    // The rollout the operator triggered replaced both pods: wait until the Service's endpoints are
    // exactly the new (injected) pods and kube-proxy sends every request to one of them.
    await eventually('the Service endpoints to be the two injected pods', async () => {
      const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=checkout' })).items;
      const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
      if (live.length !== 2 || pods.length !== 2 || !live.every((p) => isReady(p) && p.metadata?.annotations?.[INJECTED_ANNOTATION])) return undefined;
      const slices = (await discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: 'kubernetes.io/service-name=checkout' })).items;
      const endpoints = slices.flatMap((sl) => sl.endpoints ?? []);
      const ips = endpoints.filter((e) => e.conditions?.ready).flatMap((e) => e.addresses).sort();
      return endpoints.length === 2 && JSON.stringify(ips) === JSON.stringify(live.map((p) => p.status!.podIP!).sort()) ? true : undefined;
    }, 60_000, 500);
    await eventually('8 requests in a row to be answered through the Service', async () => {
      for (let n = 0; n < 8; n++) if ((await fetchInPod(`http://checkout/ready/${n}`)).status !== 200) return undefined;
      return true;
    }, 30_000, 500);
    const replicas = new Set<string>();
    for (let n = 0; n < 8; n++) {
      expect(await fetchInPod(`http://checkout/alice/${n}`, { 'x-detour-user': 'alice' })).toEqual({ status: 200, body: `laptop: GET /alice/${n}` });
      const other = await fetchInPod(`http://checkout/bob/${n}`, { 'x-detour-user': 'bob' });
      const none = await fetchInPod(`http://checkout/none/${n}`);
      for (const r of [other, none]) {
        expect(r.status).toBe(200);
        replicas.add((JSON.parse(r.body) as EchoAnswer).pod);
      }
    }
    expect([...replicas].every((p) => p.startsWith('checkout-'))).toBe(true);
    expect(laptop.received.map((r) => r.path)).toEqual(Array.from({ length: 8 }, (_, n) => `/alice/${n}`));
    // The developer's terminal shows them.
    await cli.waitFor(/GET +\/alice\/7 {2}200 /);
  });

  it('detour list, status and env work with the role', async () => {
    const list = await devCli(['list', '-o', 'json']);
    expect(list.code).toBe(0);
    const items = (JSON.parse(list.output) as { items: Array<{ metadata: { name: string }; spec: { owner?: string } }> }).items;
    expect(items.map((i) => i.metadata.name)).toEqual(['alice-checkout']);
    // The owner is who the API server authenticated (SelfSubjectReview), not the OS user (root
    // here) nor the kubeconfig's user entry name (dev).
    expect(items[0]!.spec.owner).toBe(`system:serviceaccount:${ns}:dev`);
    await eventually('detour list to show the developer connected to both replicas', async () => {
      const table = await devCli(['list']);
      return table.code === 0 && /alice-checkout +deployment\/checkout:http +x-detour-user=alice +Steal +\S+ +Active +2 /.test(table.output) ? true : undefined;
    }, 60_000, 1000);

    const status = await devCli(['status', 'alice-checkout']);
    expect(status.code).toBe(0);
    expect(status.output).toMatch(/Phase: +Active/);
    expect(status.output).toMatch(/ClientConnected +True/);
    // Events are readable too (otherwise status says "events not shown: ... 403").
    expect(status.output).not.toMatch(/events not shown/);

    const env = await devCli(['env', 'checkout']);
    expect(env.code).toBe(0);
    expect(env.output).toMatch(/^GREETING=.*hello from the cluster/m);
    expect(env.output).toMatch(/^POD_NAME=.*checkout-/m);
    expect(env.output).not.toMatch(/not resolved/);
  });

  it('Ctrl-C deletes the Intercept; a kept one is removed with detour leave', async () => {
    cli.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    expect(cli.output).toMatch(/Deleted Intercept alice-checkout/);

    const kept = startCli(['intercept', 'checkout', '--header', 'x-detour-user=bob', '--to', `localhost:${laptop.port}`, '--keep'], { KUBECONFIG: devKubeconfig });
    running.push(kept);
    await kept.waitFor(/Serving 2\/2 replicas/);
    kept.kill('SIGINT');
    expect((await kept.exited).code).toBe(0);
    expect(kept.output).toMatch(/Kept Intercept bob-checkout/);

    const leave = await devCli(['leave', 'bob-checkout']);
    expect(leave.code).toBe(0);
    expect(leave.output).toMatch(/Deleted Intercept bob-checkout/);
    const list = await devCli(['list']);
    expect(list).toMatchObject({ code: 0 });
    expect(list.output).toMatch(/No Intercepts in namespace devrbac-/);
    // Requests with the header reach the cluster again.
    const r = await fetchInPod('http://checkout/after', { 'x-detour-user': 'bob' });
    expect((JSON.parse(r.body) as EchoAnswer).pod).toMatch(/^checkout-/);
  }, 240_000);
});

describe('what the developer cannot do', () => {
  it('cannot intercept, or even list Intercepts, in a namespace without a RoleBinding', async () => {
    const r = await devCli(['intercept', 'checkout', '-n', otherNs, '--header', 'x-detour-user=alice', '--to', `localhost:${laptop.port}`]);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(new RegExp(`you are not allowed to get deployments\\.apps "checkout" in namespace ${otherNs} \\(403 Forbidden\\)`));
    expect(r.output).toMatch(/Ask your cluster admin for "get" on "deployments\.apps"/);
    expect(r.output).not.toMatch(/Creating Intercept/);

    const list = await devCli(['list', '-n', otherNs]);
    expect(list.code).toBe(1);
    expect(list.output).toMatch(new RegExp(`you are not allowed to list intercepts\\.detour\\.dev in namespace ${otherNs} \\(403 Forbidden\\)`));
    const all = await devCli(['list', '-A']);
    expect(all.code).toBe(1);
    expect(all.output).toMatch(/you are not allowed to list intercepts\.detour\.dev \(403 Forbidden\)/);

    // Nothing was created there, and the workload was not opted in (checked as admin).
    const there = await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: otherNs, plural: INTERCEPT_PLURAL }) as { items: unknown[] };
    expect(there.items).toEqual([]);
    const d = await apps.readNamespacedDeployment({ name: 'checkout', namespace: otherNs });
    expect(d.spec?.template?.metadata?.labels?.[INJECT_LABEL]).toBeUndefined();
  });

  it('cannot list, watch, create, change or delete Secrets, nor read them in another namespace', async () => {
    const devCore = dev.makeApiClient(CoreV1Api);
    expect(await asDeveloper(() => devCore.listNamespacedSecret({ namespace: ns }))).toBe(403);
    expect(await asDeveloper(() => devCore.listSecretForAllNamespaces())).toBe(403);
    expect(await asDeveloper(() => devCore.readNamespacedSecret({ namespace: otherNs, name: 'db-password' }))).toBe(403);
    expect(await asDeveloper(() => devCore.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'mine' }, stringData: { a: 'b' } } }))).toBe(403);
    expect(await asDeveloper(() => devCore.deleteNamespacedSecret({ namespace: ns, name: 'db-password' }))).toBe(403);
    expect(await asDeveloper(() => devCore.patchNamespacedSecret(
      { namespace: ns, name: 'db-password', body: { stringData: { password: 'x' } } },
      setHeaderOptions('Content-Type', 'application/merge-patch+json'),
    ))).toBe(403);
  });

  it('cannot exec, attach, port-forward, or change workloads and pods (kubectl auth can-i)', async () => {
    const authz = dev.makeApiClient(AuthorizationV1Api);
    const can = async (verb: string, resource: string, group = '', subresource?: string, namespace = ns): Promise<boolean> =>
      (await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace, verb, group, resource, ...(subresource ? { subresource } : {}) } } } })).status!.allowed;
    const denied: Array<[string, string, string?, string?]> = [
      ['create', 'pods', '', 'proxy'], ['create', 'pods', '', 'exec'], ['get', 'pods', '', 'exec'], ['create', 'pods', '', 'attach'], ['create', 'pods', '', 'portforward'], ['get', 'pods', '', 'portforward'],
      ['create', 'pods'], ['delete', 'pods'], ['patch', 'pods'],
      ['patch', 'deployments', 'apps'], ['update', 'deployments', 'apps'], ['patch', 'deployments', 'apps', 'scale'], ['patch', 'statefulsets', 'apps'],
      ['list', 'secrets'], ['watch', 'secrets'], ['create', 'secrets'],
      ['list', 'configmaps'], ['create', 'services'], ['create', 'serviceaccounts', '', 'token'],
      ['create', 'rolebindings', 'rbac.authorization.k8s.io'], ['create', 'events'],
    ];
    for (const [verb, resource, group, sub] of denied) {
      expect([`${verb} ${resource}${sub ? `/${sub}` : ''}`, await can(verb, resource, group ?? '', sub)]).toEqual([`${verb} ${resource}${sub ? `/${sub}` : ''}`, false]);
    }
    // In the other namespace, not even what the role grants in its own.
    for (const [verb, resource, group, sub] of [['get', 'pods', '', 'proxy'], ['create', 'intercepts', 'detour.dev'], ['get', 'secrets', ''], ['list', 'pods', '']] as const) {
      expect([`${verb} ${resource} in ${otherNs}`, await can(verb, resource, group, sub, otherNs)]).toEqual([`${verb} ${resource} in ${otherNs}`, false]);
    }
  });

  it('cannot read any Secret of its own namespace either: the role has no get secrets (#15)', async () => {
    // The developer reads an Intercept's token through the Role the operator creates for that
    // Intercept alone (operator/reconcile/access.ts), so the ClusterRole needs no Secret access.
    const devCore = dev.makeApiClient(CoreV1Api);
    expect(await asDeveloper(() => devCore.readNamespacedSecret({ namespace: ns, name: 'db-password' }))).toBe(403);
    const role = await rbac.readClusterRole({ name: `${fullname(detour.releaseName)}-developer` });
    expect(role.rules!.some((r) => r.resources?.includes('secrets'))).toBe(false);
  });
});

/** A GET from inside the client pod (Node's fetch in the pod's network namespace and DNS). */
async function fetchInPod(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const script = `fetch(${JSON.stringify(url)}, { headers: ${JSON.stringify(headers)}, signal: AbortSignal.timeout(5000) }).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), (e) => { console.log(JSON.stringify({ status: 0, body: String(e.cause?.code ?? e) })); })`;
  return JSON.parse((await execInPod(client, [process.execPath, '-e', script])).trim()) as { status: number; body: string };
}
