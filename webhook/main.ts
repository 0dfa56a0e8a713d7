// The webhook's entry point: the only file that reads process.env. Builds the logger, metrics,
// the serving certificate (from the mounted Secret) and app, listens, and shuts down cleanly on SIGTERM.

import { KubeConfig } from '@kubernetes/client-node';
import { buildLogger } from '../core/logging.js';
import { buildRegistry } from '../core/metrics.js';
import type { KeyPairPem } from '../core/tls/certificates.js';
import { readFile } from 'node:fs/promises';
import { buildApp, buildMetricsApp, reloadServingCertificate, type WebhookApp } from './app.js';
import { fetchCertificateFiles, startCertificateFileWatcher } from './certificate-files.js';
import { buildWebhookMetrics } from './metrics.js';
import { fetchPolicyContext } from './intercept-policy-source.js';
import { buildKubeClient } from '../core/kube/client.js';
import { readWebhookSettings } from './settings.js';
import { sleep } from '../core/sleep.js';

async function main(): Promise<void> {
  const settings = readWebhookSettings(process.env);
  const logger = buildLogger({ name: 'detour-webhook', level: settings.logLevel });
  const registry = buildRegistry();
  const metrics = buildWebhookMetrics(registry);

  // Certificates can change before the app exists (then the initial pair is used).
  const holder: { app?: WebhookApp } = {};
  const apply = (pair: KeyPairPem) => {
    if (!holder.app) return;
    try {
      reloadServingCertificate(holder.app, pair, metrics);
      logger.info('Reloaded serving certificate');
    } catch (err) {
      logger.error({ reason: err instanceof Error ? err.message : String(err) }, 'Failed to reload serving certificate; keeping the previous one');
    }
  };

  // The Secret may not be mounted with data yet (first install): wait for it rather than crash-loop.
  let initial: KeyPairPem;
  for (;;) {
    try { initial = await fetchCertificateFiles(settings.tlsCertPath, settings.tlsKeyPath); break; } catch (err) {
      logger.warn({ reason: err instanceof Error ? err.message.split('\n')[0] : String(err) }, `Waiting for serving certificate at ${settings.tlsCertPath}`);
      await sleep(5000);
    }
  }
  const watcher = startCertificateFileWatcher({ certPath: settings.tlsCertPath, keyPath: settings.tlsKeyPath, logger, onChange: apply });
  await watcher.check();

  // The CA bundle for sidecars (the Secret's ca.crt), polled like the pair.
  let operatorCa: string | undefined;
  const readCa = async () => {
    try {
      const pem = await readFile(settings.tlsCaPath, 'utf8');
      if (pem.includes('-----BEGIN CERTIFICATE-----') && pem !== operatorCa) {
        operatorCa = pem;
        logger.info({ path: settings.tlsCaPath }, `Loaded the operator CA bundle for sidecars from ${settings.tlsCaPath}`);
      }
    } catch { /* no ca.crt (yet): sidecars verify with the system roots */ }
  };
  await readCa();
  const caTimer = setInterval(() => void readCa(), 10_000);
  caTimer.unref();

  // Intercept admission reads the InterceptPolicies with the pod's own (read-only) service account.
  const apiConfig = new KubeConfig();
  apiConfig.loadFromDefault();
  const api = buildKubeClient(apiConfig);
  const app = buildApp({
    config: settings.injection, logger, metrics, tls: initial, isReady: () => true, operatorCa: () => operatorCa,
    policyContext: (namespace, workload) => fetchPolicyContext(api, namespace, workload),
  });
  holder.app = app;
  const metricsApp = buildMetricsApp(registry, logger);
  await app.listen({ host: settings.host, port: settings.port });
  await metricsApp.listen({ host: settings.host, port: settings.metricsPort });
  logger.info({ port: settings.port, metricsPort: settings.metricsPort, certificateSource: settings.certificateSource }, 'Started webhook');

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'Stopping webhook');
    watcher.stop();
    clearInterval(caTimer);
    await Promise.allSettled([app.close(), metricsApp.close()]);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`detour-webhook failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
