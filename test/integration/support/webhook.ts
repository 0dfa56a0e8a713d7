// The real webhook (buildApp) served from this test process, registered with the real API server
// by URL, with certificates from the real certificate manager (driven by the test: `manual`).
// Registered for one namespace only, so suites running against the same cluster are not touched.
import type { AddressInfo } from 'node:net';
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { SIDECAR_CONTAINER } from '../../../core/constants.js';
import type { Logger } from '../../../core/logging.js';
import { startCertificateManager, type CertificateManager } from '../../../core/tls/certificate-manager.js';
import type { RotationPolicy } from '../../../core/tls/rotation.js';
import { buildApp, reloadServingCertificate, type WebhookApp } from '../../../webhook/app.js';
import type { InjectionConfig } from '../../../webhook/config.js';
import type { WebhookMetrics } from '../../../webhook/metrics.js';
import { buildMutatingWebhookConfiguration } from '../../../webhook/registration.js';
import { eventually } from '../../../cluster/kube.js';

export interface TestWebhook {
  app: WebhookApp;
  manager: CertificateManager;
  configName: string;
  /** How many times the serving certificate was swapped in the running app. */
  rotations(): number;
  stop(): Promise<void>;
}

export async function startTestWebhook(kc: KubeConfig, options: {
  namespace: string;
  config: InjectionConfig;
  logger: Logger;
  metrics: WebhookMetrics;
  policy?: Partial<RotationPolicy>;
}): Promise<TestWebhook> {
  const { namespace: ns, config, logger, metrics } = options;
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const configName = `detour-test-${ns}`;
  // The manager calls back before the app exists (its first certificate), hence the holder.
  const served: { app?: WebhookApp } = {};
  let rotations = 0;
  // Certificates first (the configuration does not exist yet), then the app, then the registration.
  const manager = startCertificateManager({
    kube: kc, namespace: ns, secretName: 'detour-webhook-tls', webhookConfigName: configName, serviceName: 'detour-webhook',
    ipAddresses: ['127.0.0.1'], clock: { now: () => new Date() }, logger, manual: true, policy: options.policy,
    onServingCertificate: (pair) => {
      if (!served.app) return;
      reloadServingCertificate(served.app, pair, metrics);
      rotations++;
    },
  });
  await manager.reconcile();
  const app = buildApp({ config, logger, metrics, tls: manager.current()! });
  served.app = app;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const registration = buildMutatingWebhookConfiguration({ name: configName, clientConfig: { url: `https://127.0.0.1:${port}/mutate` } });
  const webhooks = registration.webhooks.map((w) => ({ ...w, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } }));
  await admission.createMutatingWebhookConfiguration({ body: { ...registration, webhooks } as unknown as V1MutatingWebhookConfiguration });
  await manager.reconcile(); // patches the caBundle

  // The API server picks the configuration up asynchronously: wait until a dry-run pod is injected.
  await eventually('the API server to call the webhook', async () => {
    const pod = await core.createNamespacedPod({
      namespace: ns, dryRun: 'All',
      body: { metadata: { name: 'probe', labels: { 'detour.dev/inject': 'true' } }, spec: { containers: [{ name: 'app', image: 'detour/echo' }] } },
    });
    return (pod.spec?.initContainers ?? []).some((c) => c.name === SIDECAR_CONTAINER) || pod.spec?.containers.some((c) => c.name === SIDECAR_CONTAINER) ? true : undefined;
  }, 30_000);

  return {
    app,
    manager,
    configName,
    rotations: () => rotations,
    async stop() {
      manager.stop();
      await admission.deleteMutatingWebhookConfiguration({ name: configName }).catch(() => undefined);
      await app.close();
    },
  };
}
