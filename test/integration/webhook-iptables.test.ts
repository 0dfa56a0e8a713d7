// The iptables opt-in end to end: the real API server calls the webhook (in this process,
// registered by URL), which injects the `detour-iptables` init container and the sidecar into a
// Deployment whose Service targets a *numeric* port. The test node runs the init container's script
// with the host's Debian iptables inside the pod's network namespace, so traffic to the app's port
// — straight to the pod IP, through the Service's ClusterIP, the kubelet's probes, and the app
// calling itself on its pod IP — now passes through the sidecar. No operator runs: the sidecar
// serves pass-through while its control channel retries an unreachable loopback address.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { DETOUR_UID, INJECTED_ANNOTATION, IPTABLES_INIT_CONTAINER, SIDECAR_ADMIN_PORT, SIDECAR_CONTAINER, SIDECAR_PROXY_PORT_FIRST } from '../../core/constants.js';
import { parseInjectionRecord } from '../../core/injection-record.js';
import { buildLogger } from '../../core/logging.js';
import { buildRegistry } from '../../core/metrics.js';
import { buildInjectionConfig } from '../../webhook/config.js';
import { buildWebhookMetrics } from '../../webhook/metrics.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { startTestWebhook, type TestWebhook } from './support/webhook.js';
import { execInPod, fetchFromPod, nodeNetwork, waitForReadyPods } from '../../cluster/pods.js';

const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const logger = buildLogger({ name: 'webhook-iptables-test', level: 'silent' });
const metrics = buildWebhookMetrics(buildRegistry(false));
// Nothing listens on port 1 of the pod's loopback: the sidecar's control channel keeps retrying
// and the sidecar serves pass-through, as it does while the operator is away.
const config = buildInjectionConfig({ operatorUrl: 'ws://127.0.0.1:1/control' });

let ns: string;
let hook: TestWebhook | undefined;

interface EchoAnswer { pod: string; path: string; headers: Record<string, string | undefined> }

beforeAll(async () => {
  ns = await createNamespace(kc, 'iptables');
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
  hook = await startTestWebhook(kc, { namespace: ns, config, logger, metrics });
});

afterAll(async () => {
  await hook?.stop();
  await deleteNamespace(kc, ns);
});

async function getJson(url: string, headers: Record<string, string> = {}): Promise<EchoAnswer> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  return (await res.json()) as EchoAnswer;
}

/** The sidecar's count of requests it passed to the app on port 8080, read from its admin port. */
async function sidecarCount(podIp: string): Promise<number> {
  const res = await fetch(`http://${podIp}:${SIDECAR_ADMIN_PORT}/metrics`, { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith('detour_sidecar_requests_total{') && l.includes('port="8080"') && l.includes('result="app"'));
  return line ? Number(line.split(' ').pop()) : 0;
}


describe('a numeric targetPort with the iptables opt-in', () => {
  let pod: V1Pod;
  let podIp: string;

  it('gets the iptables init container and the sidecar, and becomes Ready with both', async () => {
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'echo' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'echo' } },
          template: {
            metadata: { labels: { app: 'echo', 'detour.dev/inject': 'true' }, annotations: { 'detour.dev/iptables': 'true' } },
            spec: {
              containers: [{
                name: 'echo',
                image: 'detour/echo',
                env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'HOST', value: '0.0.0.0' }],
                ports: [{ containerPort: 8080 }], // no name: only the iptables opt-in can take it over
                readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 },
                livenessProbe: { httpGet: { path: '/alive', port: 8080 }, periodSeconds: 1, failureThreshold: 3 },
              }],
              terminationGracePeriodSeconds: 2,
            },
          },
        },
      },
    });
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'echo' }, spec: { selector: { app: 'echo' }, ports: [{ name: 'web', port: 80, targetPort: 8080 }] } } });

    [pod] = await waitForReadyPods(kc, ns, 'app=echo', 1);
    podIp = pod!.status!.podIP!;

    // What the webhook injected: the init container first, then the native sidecar; the app's port is untouched.
    expect(pod.spec!.initContainers!.map((c) => c.name)).toEqual([IPTABLES_INIT_CONTAINER, SIDECAR_CONTAINER]);
    expect(pod.spec!.containers[0]!.ports).toEqual([expect.objectContaining({ containerPort: 8080 })]);
    expect(pod.spec!.containers[0]!.ports![0]!.name).toBeUndefined();
    const record = parseInjectionRecord(pod.metadata!.annotations![INJECTED_ANNOTATION]);
    expect(record?.redirected).toEqual([8080]);
    expect(record?.ports).toEqual([expect.objectContaining({ appPort: 8080, listenPort: SIDECAR_PROXY_PORT_FIRST })]);

    // What the node reports: the init container completed, the sidecar and the app run.
    const init = pod.status!.initContainerStatuses!;
    expect(init.find((s) => s.name === IPTABLES_INIT_CONTAINER)!.state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(init.find((s) => s.name === SIDECAR_CONTAINER)!.state?.running).toBeDefined();
    expect(init.find((s) => s.name === SIDECAR_CONTAINER)!.ready).toBe(true);
    expect(pod.status!.containerStatuses![0]!.state?.running).toBeDefined();

    // And the rules are really there, in the pod's own network namespace.
    const rules = await execInPod(pod, ['iptables', '-w', '-t', 'nat', '-S']);
    expect(rules).toContain(`-A DETOUR_INBOUND -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports ${SIDECAR_PROXY_PORT_FIRST}`);
  });

  it('sends traffic to the pod IP through the sidecar, and the app still answers', async () => {
    const before = await sidecarCount(podIp);
    const answer = await getJson(`http://${podIp}:8080/direct`);
    expect(answer.pod).toBe(pod.metadata!.name);
    expect(answer.path).toBe('/direct');
    // The sidecar added X-Forwarded-For (this process's address, one hop) on its way to the app, and counted the request.
    expect(answer.headers['x-forwarded-for']).toBe(nodeNetwork().hostAddress);
    expect(answer.headers['x-forwarded-proto']).toBe('http');
    expect(await sidecarCount(podIp)).toBeGreaterThan(before);
  });

  it("sends traffic to the Service's ClusterIP (numeric targetPort) through the sidecar", async () => {
    const svc = await core.readNamespacedService({ name: 'echo', namespace: ns });
    const url = `http://${svc.spec!.clusterIP}:80/via-service`;
    // kube-proxy programs a new Service within a moment, as in any cluster.
    const answer = await eventually('the Service to answer', async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return res?.status === 200 ? ((await res.json()) as EchoAnswer) : undefined;
    });
    expect(answer.pod).toBe(pod.metadata!.name);
    expect(answer.path).toBe('/via-service');
    expect(answer.headers['x-forwarded-for']).toBeDefined();
  });

  it("keeps the kubelet's probes working: they pass through the sidecar and the pod stays Ready", async () => {
    // Nobody but the kubelet sends requests now; the sidecar still counts requests on 8080.
    const before = await sidecarCount(podIp);
    await eventually('the sidecar to see the kubelet probe the app', async () => ((await sidecarCount(podIp)) >= before + 3 ? true : undefined), 30_000);
    const now = await core.readNamespacedPod({ name: pod.metadata!.name!, namespace: ns });
    expect(now.status!.conditions!.find((c) => c.type === 'Ready')!.status).toBe('True');
    expect(now.status!.containerStatuses![0]!.restartCount).toBe(0); // the liveness probe never failed
    expect(now.status!.containerStatuses![0]!.ready).toBe(true);
  });

  it("sends the app's own calls to its pod IP through the sidecar once, without looping", async () => {
    // Root in the pod's network namespace, as the app runs: the OUTPUT rule sends it to the sidecar,
    // whose own connection to the app (127.0.0.1, uid 65532) is not redirected again.
    const before = await sidecarCount(podIp);
    const self = await fetchFromPod(pod, `http://${podIp}:8080/self`);
    expect(self.status).toBe(200);
    const answer = JSON.parse(self.body) as EchoAnswer;
    expect(answer.pod).toBe(pod.metadata!.name);
    expect(answer.headers['x-forwarded-for']).toBe(podIp); // one hop: the sidecar, seen from the app's address
    expect(await sidecarCount(podIp)).toBeGreaterThan(before);

    // The sidecar's user reaches the app directly even on the pod IP: no redirect, no extra hop.
    const direct = await fetchFromPod(pod, `http://${podIp}:8080/as-sidecar`, DETOUR_UID);
    expect(direct.status).toBe(200);
    expect((JSON.parse(direct.body) as EchoAnswer).headers['x-forwarded-for']).toBeUndefined();

    // Loopback is never redirected: the app talking to itself on localhost reaches itself.
    const local = await fetchFromPod(pod, 'http://127.0.0.1:8080/local');
    expect(local.status).toBe(200);
    expect((JSON.parse(local.body) as EchoAnswer).headers['x-forwarded-for']).toBeUndefined();
  });
});
