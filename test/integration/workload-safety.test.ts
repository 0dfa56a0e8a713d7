// Detour never takes a workload down, and says what it cannot take over (issue 18 items 2–4,
// issue 12 item 5), on the real local cluster: the real API server calls the webhook (in this
// process, registered by URL), the test node runs the injected sidecar from dist/, and the operator
// runs in-process. The sidecars' control channel points at an unreachable loopback port, as while
// the operator is away; the operator's decisions come from the pods, Services and workloads.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION, SIDECAR_CONTAINER } from '../../core/constants.js';
import { parseInjectionRecord } from '../../core/injection-record.js';
import { buildLogger } from '../../core/logging.js';
import { buildRegistry } from '../../core/metrics.js';
import { resourcePath, type KubeClient } from '../../core/kube/client.js';
import { AuthError, authenticateSidecar } from '../../operator/control/auth.js';
import type { RunningOperator } from '../../operator/operator.js';
import { buildInjectionConfig } from '../../webhook/config.js';
import { buildWebhookMetrics } from '../../webhook/metrics.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { applyInterceptCrd, buildKubeClient, condition, createIntercept, podToken, startTestOperator, waitForIntercept, waitForPod, type PodJson } from './support/operator-harness.js';
import { waitForReadyPods } from '../../cluster/pods.js';
import { startTestWebhook, type TestWebhook } from './support/webhook.js';

const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const logger = buildLogger({ name: 'workload-safety-test', level: 'silent' });
const config = buildInjectionConfig({ operatorUrl: 'ws://127.0.0.1:1/control' });

let ns: string;
let client: KubeClient;
let hook: TestWebhook | undefined;
let op: RunningOperator | undefined;
const alice = { headers: [{ name: 'x-detour-user', exact: 'alice' }] };

beforeAll(async () => {
  client = buildKubeClient(kc);
  await applyInterceptCrd(client);
  ns = await createNamespace(kc, 'safety');
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
  hook = await startTestWebhook(kc, { namespace: ns, config, logger, metrics: buildWebhookMetrics(buildRegistry(false)) });
  op = await startTestOperator(kc, { leaseName: `safety-${ns}` });
  await eventually('the operator to lead', async () => (op!.isReady() ? true : undefined));
});

afterAll(async () => {
  await op?.stop();
  await hook?.stop();
  await deleteNamespace(kc, ns);
  client.close();
});

interface Events { items: Array<{ type: string; reason: string; message: string; involvedObject: { kind: string; name: string } }> }
const eventsAbout = async (kind: string, name: string) =>
  (await client.request<Events>('GET', resourcePath('', 'v1', 'events', ns))).items.filter((e) => e.involvedObject.kind === kind && e.involvedObject.name === name);

function echoDeployment(name: string, port: { name?: string; containerPort: number }, annotations: Record<string, string> = {}, replicas = 1) {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, 'detour.dev/inject': 'true' }, annotations },
        spec: {
          containers: [{
            name: 'echo',
            image: 'detour/echo',
            env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'HOST', value: '0.0.0.0' }],
            ports: [port],
            readinessProbe: { httpGet: { path: '/ready', port: port.name ?? port.containerPort }, periodSeconds: 1 },
          }],
          terminationGracePeriodSeconds: 1,
        },
      },
    },
  };
}

async function serviceAnswers(name: string, path: string): Promise<{ pod: string; path: string }> {
  const svc = await core.readNamespacedService({ name, namespace: ns });
  const url = `http://${svc.spec!.clusterIP}:80${path}`;
  return eventually(`Service ${name} to answer`, async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    return res?.status === 200 ? ((await res.json()) as { pod: string; path: string }) : undefined;
  });
}

describe('a labelled workload whose port has no name and no iptables opt-in (issue 18.2)', () => {
  let pod: V1Pod;

  it('keeps running and serving through its Service: the injected sidecar idles instead of crashing', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: echoDeployment('numeric', { containerPort: 8080 }) });
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'numeric' }, spec: { selector: { app: 'numeric' }, ports: [{ name: 'web', port: 80, targetPort: 8080 }] } } });
    [pod] = await waitForReadyPods(kc, ns, 'app=numeric', 1);
    const record = parseInjectionRecord(pod!.metadata!.annotations![INJECTED_ANNOTATION]);
    expect(record?.ports).toEqual([]);
    const sidecar = pod!.status!.initContainerStatuses!.find((s) => s.name === SIDECAR_CONTAINER)!;
    expect(sidecar.state?.running).toBeDefined();
    expect(sidecar.restartCount).toBe(0);
    const answer = await serviceAnswers('numeric', '/still-up');
    expect(answer).toMatchObject({ pod: pod!.metadata!.name, path: '/still-up' });
  });

  it('says why on the Intercept and, on the pod, that its sidecar does not take the port over', async () => {
    await createIntercept(client, ns, 'alice-numeric', { workload: { kind: 'Deployment', name: 'numeric' }, port: 8080, match: alice });
    const i = await waitForIntercept(client, ns, 'alice-numeric', 'Failed', (x) => x.status?.phase === 'Failed');
    expect(condition(i, 'Routed')).toMatchObject({ status: 'False', reason: 'NumericPortNeedsIptables' });
    expect(condition(i, 'Routed')!.message).toContain('detour.dev/iptables');
    const events = await eventually('a PortNotTakenOver event on the pod', async () => {
      const e = await eventsAbout('Pod', pod.metadata!.name!);
      return e.some((x) => x.reason === 'PortNotTakenOver') ? e : undefined;
    });
    expect(events.find((x) => x.reason === 'PortNotTakenOver')).toMatchObject({ type: 'Warning' });
    // Still serving.
    expect((await serviceAnswers('numeric', '/after-intercept')).pod).toBe(pod.metadata!.name);
  });
});

describe('a labelled pod of a kind no Intercept can target (a bare Pod)', () => {
  it('runs its sidecar pass-through, Ready, and keeps answering through the taken-over port', async () => {
    const template = echoDeployment('bare', { name: 'http', containerPort: 8080 }).spec.template;
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'bare', labels: template.metadata.labels }, spec: template.spec } });
    const [pod] = await waitForReadyPods(kc, ns, 'app=bare', 1);
    const sidecar = pod!.status!.initContainerStatuses!.find((s) => s.name === SIDECAR_CONTAINER)!;
    expect(sidecar.state?.running).toBeDefined();
    expect(sidecar.restartCount).toBe(0);
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'bare' }, spec: { selector: { app: 'bare' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } } });
    expect(await serviceAnswers('bare', '/bare')).toMatchObject({ pod: 'bare', path: '/bare' });
  });
});

describe('the documented port-list opt-in detour.dev/iptables: "8080" (issue 18.3)', () => {
  it('lets an Intercept on the numeric port route', async () => {
    // What the operator judges is the pod template (no replica needed; the webhook side of the
    // port list is covered by webhook-iptables and the planner tests).
    await apps.createNamespacedDeployment({ namespace: ns, body: echoDeployment('listed', { containerPort: 8080 }, { 'detour.dev/iptables': '8080' }, 0) });
    await createIntercept(client, ns, 'alice-listed', { workload: { kind: 'Deployment', name: 'listed' }, port: 8080, match: alice });
    const i = await waitForIntercept(client, ns, 'alice-listed', 'routed', (x) => condition(x, 'Routed')?.status === 'True');
    expect(i.status?.phase).not.toBe('Failed');
  });
});

describe('a Service that targets the app by number bypasses the sidecar (issue 18.4)', () => {
  it('is named, with the fix, in a condition and a Warning event; naming the targetPort clears it', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: echoDeployment('named', { name: 'http', containerPort: 8080 }, {}, 0) });
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'named-direct' }, spec: { selector: { app: 'named' }, ports: [{ name: 'web', port: 80, targetPort: 8080 }] } } });
    await createIntercept(client, ns, 'alice-named', { workload: { kind: 'Deployment', name: 'named' }, port: 'http', match: alice });
    const bypassed = await waitForIntercept(client, ns, 'alice-named', 'ServicesReachSidecar=False', (x) => condition(x, 'ServicesReachSidecar')?.status === 'False');
    const c = condition(bypassed, 'ServicesReachSidecar')!;
    expect(c.reason).toBe('ServiceBypassesSidecar');
    expect(c.message).toContain('Service named-direct port web (targetPort: 8080)');
    expect(c.message).toContain('set targetPort: http');
    expect(c.message).toContain('detour.dev/iptables: "8080"');
    const events = await eventually('a ServiceBypassesSidecar event', async () => {
      const e = await eventsAbout('Intercept', 'alice-named');
      return e.some((x) => x.reason === 'ServiceBypassesSidecar') ? e : undefined;
    });
    expect(events.find((x) => x.reason === 'ServiceBypassesSidecar')!.type).toBe('Warning');

    // The developer's fix: target the port by name. The Services informer re-queues the Intercept.
    await client.request('PATCH', resourcePath('', 'v1', 'services', ns, 'named-direct'), {
      contentType: 'application/merge-patch+json',
      body: { spec: { ports: [{ name: 'web', port: 80, targetPort: 'http' }] } },
    });
    const fixed = await waitForIntercept(client, ns, 'alice-named', 'ServicesReachSidecar=True', (x) => condition(x, 'ServicesReachSidecar')?.status === 'True');
    expect(condition(fixed, 'ServicesReachSidecar')!.reason).toBe('TargetPortNamed');
  });
});

describe('a pod posing as part of a workload (issue 12.5)', () => {
  it('is refused on the control channel when its controller reference names a ReplicaSet by name with another uid', async () => {
    // Any pod the ReplicaSet controller made (ready or not): it authenticates as its Deployment.
    await apps.createNamespacedDeployment({ namespace: ns, body: echoDeployment('genuine', { name: 'http', containerPort: 8080 }) });
    const real = await waitForPod(client, ns, 'genuine');
    const rsRef = real.metadata.ownerReferences!.find((r) => r.kind === 'ReplicaSet')!;
    const realId = await authenticateSidecar(client, await podToken(client, real));
    expect(realId.workload).toEqual({ kind: 'Deployment', namespace: ns, name: 'genuine' });

    // A pod anyone with pods/create can make: it names the same ReplicaSet, with a made-up uid. The
    // finalizer keeps it around after the garbage collector notices the missing owner.
    const forged = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: {
          name: 'impostor', finalizers: ['detour.dev/test-hold'],
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rsRef.name, uid: '00000000-0000-4000-8000-000000000000', controller: true }],
        },
        spec: { containers: [{ name: 'app', image: 'example.invalid/none:1' }], terminationGracePeriodSeconds: 0 },
      },
    });
    try {
      const token = await podToken(client, forged as unknown as PodJson);
      const refused = await authenticateSidecar(client, token).then(() => undefined, (err: unknown) => err);
      expect(refused).toBeInstanceOf(AuthError);
      expect((refused as AuthError).status).toBe(403);
    } finally {
      await client.request('PATCH', resourcePath('', 'v1', 'pods', ns, 'impostor'), { contentType: 'application/merge-patch+json', body: { metadata: { finalizers: null } } }).catch(() => undefined);
    }
  });
});
