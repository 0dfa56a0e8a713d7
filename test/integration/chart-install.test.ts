// The Helm chart installed into the local cluster, as a user would: operator and webhook pods run
// the built entrypoints on the test node, a labelled Deployment gets its sidecar, an Intercept
// routes a request with the header to a developer connected through the pod proxy subresource,
// an upgrade with new values keeps intercepts working, and `helm uninstall` leaves no webhook
// configuration while the workload keeps serving.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION, SIDECAR_CONTAINER } from '../../core/constants.js';
import { parseInjectionRecord } from '../../core/injection-record.js';
import { TOKEN_SECRET_KEY } from '../../core/api/intercept.js';
import { connectTunnel, type Tunnel } from '../../core/tunnel/developer.js';
import { buildKubeClient, createIntercept, waitForIntercept } from './support/operator-harness.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { installDetour, type InstalledDetour } from '../../cluster/install-detour.js';
import { isReady, waitForReadyPods, waitForServiceEndpoints } from '../../cluster/pods.js';

const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const client = buildKubeClient(kc);

let detour: InstalledDetour | undefined;
let ns: string;
let developer: Server;
let developerUrl: string;
let serviceUrl: string;
const tunnels: Tunnel[] = [];

const sidecarOf = (pod: V1Pod): V1Container | undefined => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === SIDECAR_CONTAINER);

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(`${serviceUrl}${path}`, { headers, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/** Opens a tunnel to every pod of the workload through the API server's pod proxy subresource. */
async function connectDeveloper(intercept: string): Promise<void> {
  const secretName = (await waitForIntercept(client, ns, intercept, 'a token Secret', (i) => !!i.status?.tokenSecretName)).status!.tokenSecretName!;
  const secret = await core.readNamespacedSecret({ namespace: ns, name: secretName });
  const token = Buffer.from(secret.data![TOKEN_SECRET_KEY]!, 'base64').toString('utf8');
  const cluster = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser()!;
  const ca = Buffer.from(cluster.caData!, 'base64').toString();
  const pods = await waitForReadyPods(kc, ns, 'app=checkout', 2);
  for (const pod of pods) {
    const record = parseInjectionRecord(pod.metadata!.annotations![INJECTED_ANNOTATION])!;
    const url = `${cluster.server.replace(/^https:/, 'wss:')}/api/v1/namespaces/${ns}/pods/${pod.metadata!.name}:${record.tunnelPort}/proxy/tunnel`;
    tunnels.push(await connectTunnel({ url, token, target: developerUrl, tokenHeader: 'x-detour-token', headers: { authorization: `Bearer ${user.token}` }, webSocketOptions: { ca } }));
  }
}

/** Every request with the header reaches the developer, every request without it the app (both replicas are hit in 8 tries). */
async function expectRouted(user: string): Promise<void> {
  await eventually(`requests with x-detour-user: ${user} to reach the developer`, async () => {
    for (let n = 0; n < 8; n++) {
      const res = await get(`/checkout/${n}`, { 'x-detour-user': user });
      if (res.status !== 200 || res.body !== `laptop of ${user}: GET /checkout/${n}`) return undefined;
    }
    return true;
  }, 30_000);
  for (let n = 0; n < 8; n++) {
    const res = await get('/checkout', { 'x-detour-user': 'somebody-else' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ path: '/checkout', pod: expect.stringMatching(/^checkout-/) });
  }
}

beforeAll(async () => {
  developer = createServer((req, res) => res.end(`laptop of ${req.headers['x-detour-user']}: ${req.method} ${req.url}`));
  await new Promise<void>((r) => developer.listen(0, '127.0.0.1', r));
  developerUrl = `http://127.0.0.1:${(developer.address() as AddressInfo).port}`;
  detour = await installDetour(kc);
  ns = await createNamespace(kc, 'shop');
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
});

afterAll(async () => {
  for (const t of tunnels) await t.close().catch(() => undefined);
  await detour?.uninstall();
  if (ns) await deleteNamespace(kc, ns);
  await new Promise((r) => developer?.close(r));
  client.close();
});

describe('the chart installed into a cluster', () => {
  it('runs the operator (one Ready leader) and the webhook as uid 65532 with a read-only root filesystem', async () => {
    const operators = await detour!.operatorPods();
    expect(operators).toHaveLength(2);
    expect(operators.filter(isReady)).toHaveLength(1);
    const webhooks = await waitForReadyPods(kc, detour!.namespace, 'app.kubernetes.io/component=webhook', 1);
    for (const pod of [...operators, ...webhooks]) {
      expect(pod.status!.phase).toBe('Running');
      expect(pod.spec!.nodeName).toBe('detour-node');
      expect(pod.spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
      expect(pod.spec!.containers[0]!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    }
    // The operator issued the webhook's certificate and patched the caBundle.
    const configuration = await admission.readMutatingWebhookConfiguration({ name: 'detour' });
    expect(configuration.webhooks![0]!.clientConfig.caBundle).toBeTruthy();
    const serving = await core.readNamespacedSecret({ namespace: detour!.namespace, name: 'detour-webhook-tls' });
    expect(Object.keys(serving.data!).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
  });

  it('injects the sidecar into a labelled Deployment, whose pods become Ready', async () => {
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'checkout' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'checkout' } },
          template: {
            metadata: { labels: { app: 'checkout', 'detour.dev/inject': 'true' } },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [{ name: 'app', image: 'detour/echo', env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 } }],
            },
          },
        },
      },
    });
    const service = await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'checkout' }, spec: { selector: { app: 'checkout' }, ports: [{ name: 'web', port: 80, targetPort: 'http' }] } } });
    serviceUrl = `http://${service.spec!.clusterIP}:80`;
    const pods = await waitForReadyPods(kc, ns, 'app=checkout', 2);
    const tls = await core.readNamespacedSecret({ namespace: detour!.namespace, name: 'detour-webhook-tls' });
    const operatorCa = Buffer.from(tls.data!['ca.crt']!, 'base64').toString('utf8');
    for (const pod of pods) {
      const sidecar = sidecarOf(pod);
      expect(sidecar).toBeDefined();
      expect(sidecar!.image).toBe('ghcr.io/detour-dev/detour:test');
      expect(sidecar!.env).toContainEqual({ name: 'DETOUR_OPERATOR_URL', value: detour!.operatorUrl });
      // The control channel is wss: the sidecar verifies the operator with the serving Secret's CA bundle.
      expect(detour!.operatorUrl.startsWith('wss://')).toBe(true);
      expect(sidecar!.env).toContainEqual({ name: 'DETOUR_OPERATOR_CA', value: operatorCa });
      const statuses = [...(pod.status!.initContainerStatuses ?? []), ...(pod.status!.containerStatuses ?? [])];
      expect(statuses.find((s) => s.name === SIDECAR_CONTAINER)?.ready).toBe(true);
      expect(statuses.find((s) => s.name === 'app')?.ready).toBe(true);
    }
    // Without an intercept, the sidecar passes everything through (once kube-proxy has programmed the
    // new Service, which takes a moment as in any cluster).
    await waitForServiceEndpoints(kc, ns, 'checkout', pods);
    const res = await eventually('the Service to answer', () => get('/hello', { 'x-detour-user': 'alice' }).catch(() => undefined));
    expect(JSON.parse(res.body)).toMatchObject({ path: '/hello', pod: expect.stringMatching(/^checkout-/) });
  });

  it('routes requests with the header to the developer, and the others to the app', async () => {
    await createIntercept(client, ns, 'alice-checkout', {
      workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', owner: 'alice@example.com',
      match: { headers: [{ name: 'x-detour-user', exact: 'alice' }] },
    });
    const active = await waitForIntercept(client, ns, 'alice-checkout', 'Active with both sidecars', (i) => i.status?.phase === 'Active' && i.status.sidecars?.ready === 2);
    expect(active.status!.sidecars).toEqual({ ready: 2, desired: 2 });
    await connectDeveloper('alice-checkout');
    await expectRouted('alice');
  });

  it('keeps intercepts working through an upgrade that replaces the operator pods and scales them', async () => {
    const before = await detour!.operatorPods();
    await detour!.upgrade({ logLevel: 'debug', operator: { replicas: 3 }, webhook: { replicas: 2 } });
    const after = await detour!.operatorPods();
    expect(after).toHaveLength(3);
    expect(after.some((p) => before.some((q) => q.metadata!.uid === p.metadata!.uid))).toBe(false);
    await waitForReadyPods(kc, detour!.namespace, 'app.kubernetes.io/component=webhook', 2);
    // Sidecars reconnected to the new leader through the Service: it reports them and pushes new routes.
    await waitForIntercept(client, ns, 'alice-checkout', 'Active under the new leader', (i) => i.status?.phase === 'Active' && i.status.sidecars?.ready === 2);
    await expectRouted('alice');
    await createIntercept(client, ns, 'bob-checkout', {
      workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', owner: 'bob@example.com',
      match: { headers: [{ name: 'x-detour-user', exact: 'bob' }] },
    });
    await waitForIntercept(client, ns, 'bob-checkout', 'Active', (i) => i.status?.phase === 'Active' && i.status.sidecars?.ready === 2);
    await connectDeveloper('bob-checkout');
    await expectRouted('bob');
  });

  it('uninstalls without leaving a webhook configuration, and the workload keeps serving', async () => {
    // Intercepts go first: their finalizer is the operator's to remove.
    for (const name of ['alice-checkout', 'bob-checkout']) {
      await client.request('DELETE', `/apis/detour.dev/v1alpha1/namespaces/${ns}/intercepts/${name}`).catch((e: { code?: number }) => { if (e.code !== 404) throw e; });
    }
    await eventually('the intercepts to be gone', async () => ((await client.request<{ items: unknown[] }>('GET', `/apis/detour.dev/v1alpha1/namespaces/${ns}/intercepts`)).items.length === 0 ? true : undefined));
    const release = detour!;
    await release.uninstall({ keepNamespace: true });
    detour = undefined;
    const configurations = await admission.listMutatingWebhookConfiguration();
    expect(configurations.items.map((c) => c.metadata!.name)).not.toContain('detour');
    await eventually('the operator and webhook pods to go', async () => ((await core.listNamespacedPod({ namespace: release.namespace })).items.length === 0 ? true : undefined));
    for (let n = 0; n < 6; n++) {
      const res = await get('/after-uninstall', { 'x-detour-user': 'alice' });
      expect(JSON.parse(res.body)).toMatchObject({ path: '/after-uninstall', pod: expect.stringMatching(/^checkout-/) });
    }
    // New pods still start (without a sidecar: there is no webhook any more).
    await apps.patchNamespacedDeploymentScale({ namespace: ns, name: 'checkout', body: [{ op: 'replace', path: '/spec/replicas', value: 3 }] });
    const pods = await waitForReadyPods(kc, ns, 'app=checkout', 3);
    expect(pods.filter((p) => !sidecarOf(p))).toHaveLength(1);
    await deleteNamespace(kc, release.namespace);
  });
});
