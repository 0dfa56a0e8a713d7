// The real API server calls the webhook, served from this process and registered by URL
// (support/webhook.ts) with the caBundle that the certificate manager patches in.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, DiscoveryV1Api, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION, SIDECAR_CONTAINER, SIDECAR_PROXY_PORT_FIRST } from '../../core/constants.js';
import { parseInjectionRecord } from '../../core/injection-record.js';
import { buildLogger } from '../../core/logging.js';
import { buildRegistry } from '../../core/metrics.js';
import { buildInjectionConfig } from '../../webhook/config.js';
import { buildWebhookMetrics } from '../../webhook/metrics.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { startTestWebhook, type TestWebhook } from './support/webhook.js';

const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const logger = buildLogger({ name: 'webhook-test', level: 'silent' });
const metrics = buildWebhookMetrics(buildRegistry(false));
const config = buildInjectionConfig();

let ns: string;
let hook: TestWebhook;

const sidecarOf = (pod: V1Pod): V1Container | undefined => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === SIDECAR_CONTAINER);

const appContainer = (): V1Container => ({
  name: 'app', image: 'detour/echo',
  ports: [{ name: 'http', containerPort: 8080 }],
  readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
});

const labelledPod = (name: string, labels: Record<string, string> = { 'detour.dev/inject': 'true' }): V1Pod => ({
  metadata: { name, labels },
  spec: { containers: [appContainer()], terminationGracePeriodSeconds: 1 },
});

beforeAll(async () => {
  ns = await createNamespace(kc, 'webhook');
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
  // Rotate on every reconcile: 3-minute certificates, renewed once 60 % of their life (incl. 5 min backdating) has passed.
  hook = await startTestWebhook(kc, { namespace: ns, config, logger, metrics, policy: { servingValidityHours: 0.05, renewFraction: 0.6 } });
});

afterAll(async () => {
  await hook?.stop().catch(() => undefined);
  await deleteNamespace(kc, ns);
});

async function podsOf(selector: string, count: number): Promise<V1Pod[]> {
  return eventually(`${count} pods with ${selector}`, async () => {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: selector });
    return list.items.length >= count ? list.items : undefined;
  });
}

const deployment = (name: string, inject: boolean, replicas = 2) => ({
  metadata: { name },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name, ...(inject ? { 'detour.dev/inject': 'true' } : {}) } }, spec: { containers: [appContainer()], terminationGracePeriodSeconds: 1 } },
  },
});

describe('the API server calls the webhook', () => {
  it('keeps the caBundle of the configuration trusting the serving certificate', async () => {
    const c = await admission.readMutatingWebhookConfiguration({ name: hook.configName });
    const bundle = Buffer.from(c.webhooks![0]!.clientConfig.caBundle!, 'base64').toString('utf8');
    const serving = new X509Certificate(hook.manager.current()!.certPem);
    const cas = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    expect(cas.some((pem) => serving.verify(new X509Certificate(pem).publicKey))).toBe(true);
  });

  it('injects the sidecar into every pod of a labelled Deployment', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('checkout', true) });
    const pods = await podsOf('app=checkout', 2);
    for (const pod of pods) {
      const sidecar = sidecarOf(pod);
      expect(sidecar).toBeDefined();
      expect(pod.spec!.initContainers![0]!.name).toBe(SIDECAR_CONTAINER);
      expect(sidecar!.restartPolicy).toBe('Always');
      expect(sidecar!.ports).toContainEqual(expect.objectContaining({ name: 'http', containerPort: SIDECAR_PROXY_PORT_FIRST }));
      expect(sidecar!.env).toContainEqual({ name: 'DETOUR_WORKLOAD', value: 'Deployment/checkout' });
      const app = pod.spec!.containers.find((c) => c.name === 'app')!;
      expect(app.ports).toEqual([expect.objectContaining({ name: 'dt-http', containerPort: 8080 })]);
      expect(app.readinessProbe!.httpGet!.port).toBe(8080);
      expect(parseInjectionRecord(pod.metadata!.annotations![INJECTED_ANNOTATION])?.workload).toBe('Deployment/checkout');
      expect(pod.spec!.volumes!.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken?.audience === 'detour'))).toBe(true);
    }
  });

  it("resolves a Service's named targetPort to the sidecar in the EndpointSlice", async () => {
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'checkout' }, spec: { selector: { app: 'checkout' }, ports: [{ name: 'web', port: 80, targetPort: 'http' }] } } });
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    // Slices list pods once they have an address, ready or not; the port is resolved per pod.
    const port = await eventually('an EndpointSlice port for checkout', async () => {
      const slices = await discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: 'kubernetes.io/service-name=checkout' });
      const withEndpoints = slices.items.find((s) => (s.endpoints ?? []).length > 0 && (s.ports ?? []).some((p) => p.port !== undefined && p.port !== null));
      return withEndpoints?.ports?.find((p) => p.name === 'web')?.port ?? undefined;
    }, 90_000);
    expect(port).toBe(SIDECAR_PROXY_PORT_FIRST);
  });

  it('leaves the pods of an unlabelled Deployment untouched', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('plain', false, 1) });
    const [pod] = await podsOf('app=plain', 1);
    expect(sidecarOf(pod!)).toBeUndefined();
    expect(pod!.metadata!.annotations?.[INJECTED_ANNOTATION]).toBeUndefined();
    expect(pod!.spec!.containers[0]!.ports![0]!.name).toBe('http');
  });

  it('loses no admission while the serving certificate is rotated again and again', async () => {
    const before = hook.rotations();
    let creating = true;
    const rotate = (async () => {
      while (creating) {
        await hook.manager.reconcile();
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const names: string[] = [];
    for (let batch = 0; batch < 8; batch++) {
      const created = await Promise.all(Array.from({ length: 5 }, (_, i) => core.createNamespacedPod({ namespace: ns, body: labelledPod(`rot-${batch}-${i}`, { 'detour.dev/inject': 'true', rotation: 'yes' }) })));
      names.push(...created.map((p) => p.metadata!.name!));
    }
    creating = false;
    await rotate;
    expect(hook.rotations() - before).toBeGreaterThanOrEqual(3);
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'rotation=yes' })).items;
    expect(pods).toHaveLength(names.length);
    const missing = pods.filter((p) => !sidecarOf(p)).map((p) => p.metadata!.name);
    expect(missing).toEqual([]);
  });

  it('still creates pods, without the sidecar, while the webhook is down', async () => {
    await hook.app.close();
    const pod = await core.createNamespacedPod({ namespace: ns, body: labelledPod('while-down') });
    expect(pod.metadata!.name).toBe('while-down');
    expect(sidecarOf(pod)).toBeUndefined();
  });
});
