// The real API server calls the webhook: registered by URL (no kube-proxy for Service IPs here)
// with the caBundle that the certificate manager patches in; the app runs in this process.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, DiscoveryV1Api, type V1Container, type V1MutatingWebhookConfiguration, type V1Pod } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION, SIDECAR_CONTAINER, SIDECAR_PROXY_PORT_FIRST } from '../../core/constants.js';
import { parseInjectionRecord } from '../../core/injection-record.js';
import { buildLogger } from '../../core/logging.js';
import { buildRegistry } from '../../core/metrics.js';
import { startCertificateManager, type CertificateManager } from '../../core/tls/certificate-manager.js';
import { buildApp, reloadServingCertificate, type WebhookApp } from '../../webhook/app.js';
import { buildInjectionConfig } from '../../webhook/config.js';
import { buildWebhookMetrics } from '../../webhook/metrics.js';
import { buildMutatingWebhookConfiguration } from '../../webhook/registration.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from './support/cluster.js';

const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const logger = buildLogger({ name: 'webhook-test', level: process.env.WEBHOOK_TEST_LOG === '1' ? 'debug' : 'silent' });
const metrics = buildWebhookMetrics(buildRegistry(false));
const config = buildInjectionConfig();

let ns: string;
let configName: string;
let app: WebhookApp;
let manager: CertificateManager;
let rotations = 0;

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
  configName = `detour-test-${ns}`;
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));

  // Certificates first (the configuration does not exist yet), then the app, then the registration.
  manager = startCertificateManager({
    kube: kc, namespace: ns, secretName: 'detour-webhook-tls', webhookConfigName: configName, serviceName: 'detour-webhook',
    ipAddresses: ['127.0.0.1'], clock: { now: () => new Date() }, logger, manual: true,
    // Rotate on every reconcile: 3-minute certificates, renewed once 60 % of their life (incl. 5 min backdating) has passed.
    policy: { servingValidityHours: 0.05, renewFraction: 0.6 },
    onServingCertificate: (pair) => {
      if (!app) return;
      reloadServingCertificate(app, pair, metrics);
      rotations++;
    },
  });
  await manager.reconcile();
  app = buildApp({ config, logger, metrics, tls: manager.current()! });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const registration = buildMutatingWebhookConfiguration({ name: configName, clientConfig: { url: `https://127.0.0.1:${port}/mutate` } });
  await admission.createMutatingWebhookConfiguration({ body: registration as unknown as V1MutatingWebhookConfiguration });
  await manager.reconcile(); // patches the caBundle (and issues a fresh serving certificate)
  if (process.env.WEBHOOK_TEST_LOG === '1') {
    const stored = await admission.readMutatingWebhookConfiguration({ name: configName });
    process.stderr.write(`stored: ${JSON.stringify({ ...stored.webhooks?.[0], clientConfig: { ...stored.webhooks?.[0]?.clientConfig, caBundle: stored.webhooks?.[0]?.clientConfig.caBundle?.length } })}\n`);
  }

  // The API server picks the configuration up asynchronously: wait until a dry-run pod is injected.
  await eventually('the API server to call the webhook', async () => {
    const pod = await core.createNamespacedPod({ namespace: ns, body: labelledPod('probe'), dryRun: 'All' });
    if (process.env.WEBHOOK_TEST_LOG === '1') {
      const { readFileSync } = await import('node:fs');
      const log = readFileSync(`${process.env.DETOUR_TEST_CONTROL_PLANE_DIR}/logs/kube-apiserver.log`, 'utf8').split('\n').filter((l) => /webhook|inject\.detour/i.test(l)).slice(-3);
      process.stderr.write(`probe: ${JSON.stringify(pod.spec?.initContainers?.map((c) => c.name))}\n${log.join('\n').slice(0, 2000)}\n`);
    }
    return sidecarOf(pod) ? true : undefined;
  }, 30_000);
});

afterAll(async () => {
  manager?.stop();
  await admission.deleteMutatingWebhookConfiguration({ name: configName }).catch(() => undefined);
  await app?.close();
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
    const c = await admission.readMutatingWebhookConfiguration({ name: configName });
    const bundle = Buffer.from(c.webhooks![0]!.clientConfig.caBundle!, 'base64').toString('utf8');
    const serving = new X509Certificate(manager.current()!.certPem);
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
    const before = rotations;
    let creating = true;
    const rotate = (async () => {
      while (creating) {
        await manager.reconcile();
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
    expect(rotations - before).toBeGreaterThanOrEqual(3);
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'rotation=yes' })).items;
    expect(pods).toHaveLength(names.length);
    const missing = pods.filter((p) => !sidecarOf(p)).map((p) => p.metadata!.name);
    expect(missing).toEqual([]);
  });

  it('still creates pods, without the sidecar, while the webhook is down', async () => {
    await app.close();
    const pod = await core.createNamespacedPod({ namespace: ns, body: labelledPod('while-down') });
    expect(pod.metadata!.name).toBe('while-down');
    expect(sidecarOf(pod)).toBeUndefined();
  });
});
