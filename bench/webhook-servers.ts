// Child process of item 4: the real webhook app (webhook/app.ts buildApp, as main.ts builds it) and a
// no-op admission responder on the same stack (fastify over HTTPS, same certificate and options),
// both on 127.0.0.1. The no-op parses the JSON body and allows the pod without looking at it.

import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { buildLogger } from '../core/logging.js';
import { buildRegistry } from '../core/metrics.js';
import { buildCertificateAuthority, buildLeafCertificate } from '../core/tls/certificates.js';
import { buildApp, MUTATE_PATH, webhookServerOptions } from '../webhook/app.js';
import { buildInjectionConfig } from '../webhook/config.js';
import { buildWebhookMetrics } from '../webhook/metrics.js';

export async function startWebhookServers(ready: (info: unknown) => void): Promise<void> {
  const now = new Date();
  const ca = buildCertificateAuthority({ commonName: 'detour-bench-ca', now });
  const tls = buildLeafCertificate({ ca, commonName: 'detour-webhook', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], now, usage: 'server' });
  // Production logging (info, JSON) to /dev/null: the cost of formatting the line is part of the handler.
  const { openSync } = await import('node:fs');
  const { default: pino } = await import('pino');
  const logger = buildLogger({ name: 'detour-webhook', level: 'info', destination: pino.destination({ fd: openSync('/dev/null', 'w'), sync: false }) });
  const registry = buildRegistry();
  const real = buildApp({ config: buildInjectionConfig({ sidecarImage: 'ghcr.io/detour-dev/detour:bench' }), logger, metrics: buildWebhookMetrics(registry), tls });

  const noop = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    ...webhookServerOptions(tls),
  }) as unknown as FastifyInstance;
  noop.post(MUTATE_PATH, async (request, reply) => {
    const uid = (request.body as { request?: { uid?: string } } | undefined)?.request?.uid ?? '';
    return reply.code(200).send({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } });
  });

  await real.listen({ host: '127.0.0.1', port: 0 });
  await noop.listen({ host: '127.0.0.1', port: 0 });
  ready({ real: (real.server.address() as AddressInfo).port, noop: (noop.server.address() as AddressInfo).port });
}
