// The webhook's HTTP(S) application: `buildApp(deps)` builds it, main.ts (or a test) listens.
// POST /mutate answers AdmissionReviews; GET /healthz and /readyz for the kubelet. It never
// throws out of a handler: malformed requests get a 4xx with a catalogue code, everything
// well-formed gets an AdmissionReview that allows the pod.

import { createSecureContext } from 'node:tls';
import type { Server as HttpsServer } from 'node:https';
import { performance } from 'node:perf_hooks';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { KeyPairPem } from '../core/tls/certificates.js';
import { certificateValidity } from '../core/tls/certificates.js';
import type { Logger } from '../core/logging.js';
import { decideAdmission, readAdmissionReview } from './admission.js';
import { buildDenied, buildInterceptReview, planInterceptAdmission, workloadOfObject, type InterceptAdmissionRequest, type PolicyContext } from './intercept-admission.js';
import type { WorkloadName } from '../core/workload-ref.js';
import type { InjectionConfig } from './config.js';
import { buildErrorBody, classifyFastifyError, WEBHOOK_ERRORS } from './errors.js';
import type { WebhookMetrics } from './metrics.js';

export const MUTATE_PATH = '/mutate';
/** Intercept admission: the creator stamp and the policies (intercept-admission.ts). */
export const INTERCEPTS_PATH = '/intercepts';
/** Pods are at most ~1.5 MiB in etcd; an AdmissionReview carries one (plus oldObject on updates). */
export const DEFAULT_BODY_LIMIT = 3 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface WebhookAppDeps {
  config: InjectionConfig;
  logger: Logger;
  metrics: WebhookMetrics;
  /** Serve HTTPS with this certificate (replace it later with `reloadServingCertificate`). */
  tls?: KeyPairPem;
  /** The CA bundle sidecars verify the operator with, read when each pod is admitted (it rotates). */
  operatorCa?: () => string | undefined;
  bodyLimitBytes?: number;
  /** The whole request must arrive within this time, or the connection gets 408 and is closed. */
  requestTimeoutMs?: number;
  /** Readiness beyond "listening" (main: a certificate is loaded). */
  isReady?: () => boolean;
  /** Monotonic milliseconds, for the latency histogram. */
  monotonicNow?: () => number;
  /**
   * Reads the policies for an Intercept's admission (intercept-policy-source.ts). Absent: the
   * webhook has no API access, and every Intercept is refused (the security boundary fails closed).
   */
  policyContext?: (namespace: string, workload: WorkloadName) => Promise<PolicyContext>;
}

export type WebhookApp = FastifyInstance;

export interface WebhookServerLimits {
  bodyLimitBytes?: number;
  requestTimeoutMs?: number;
}

/**
 * The fastify options of the webhook's server (limits, deadlines, poisoning checks, TLS). Exported so
 * the benchmark's no-op responder runs on exactly the same stack.
 */
export function webhookServerOptions(tls: KeyPairPem | undefined, limits: WebhookServerLimits = {}) {
  const requestTimeout = limits.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  // Node checks request deadlines every connectionsCheckingInterval (30 s by default).
  const serverOptions = { connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(requestTimeout / 4))), headersTimeout: requestTimeout };
  return {
    bodyLimit: limits.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
    requestTimeout,
    connectionTimeout: requestTimeout * 2,
    keepAliveTimeout: 30_000,
    onProtoPoisoning: 'error' as const,
    onConstructorPoisoning: 'error' as const,
    return503OnClosing: true,
    ...(tls
      ? { https: { cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' as const, ...serverOptions } }
      : { http: serverOptions }),
  };
}

export function buildApp(deps: WebhookAppDeps): WebhookApp {
  const now = deps.monotonicNow ?? (() => performance.now());
  // The configuration with the current operator CA, rebuilt only when the CA changes.
  let withCa: { pem: string | undefined; config: InjectionConfig } = { pem: deps.config.operatorCaPem, config: deps.config };
  const configFor = (pem: string | undefined): InjectionConfig => {
    if (pem === undefined || pem === withCa.pem) return withCa.config;
    withCa = { pem, config: { ...deps.config, operatorCaPem: pem } };
    return withCa.config;
  };
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    ...webhookServerOptions(deps.tls, deps),
  }) as unknown as FastifyInstance;

  if (deps.tls) observeCertificate(deps.metrics, deps.tls);

  app.setErrorHandler((err: unknown, request, reply) => {
    const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; statusCode?: unknown; message?: unknown };
    const message = typeof e.message === 'string' ? e.message : String(err);
    const code = classifyFastifyError(e);
    if (code === 'INTERNAL') request.log.error({ err: message }, 'Failed to handle request');
    if (request.url === MUTATE_PATH) deps.metrics.observeAdmission('malformed', 0);
    void reply.code(WEBHOOK_ERRORS[code].statusCode).send(buildErrorBody(code, code === 'INTERNAL' ? undefined : message));
  });
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send(buildErrorBody('NOT_FOUND'));
  });

  // The API server always sends JSON; anything else is refused before the body is read.
  app.removeContentTypeParser('text/plain');
  const requireJson = async (request: { headers: Record<string, string | string[] | undefined> }, reply: { code(n: number): { send(b: unknown): unknown } }) => {
    const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      deps.metrics.observeAdmission('malformed', 0);
      return reply.code(415).send(buildErrorBody('UNSUPPORTED_MEDIA_TYPE', type ? `content type ${type.slice(0, 60)}` : 'no content type'));
    }
    return undefined;
  };

  app.post(MUTATE_PATH, { onRequest: requireJson }, async (request, reply) => {
    const started = now();
    const decision = decideAdmission(request.body, configFor(deps.operatorCa?.()));
    deps.metrics.observeAdmission(decision.result, Math.max(0, now() - started) / 1000);
    if (decision.statusCode === 400) {
      request.log.info({ code: decision.code, reason: decision.reason }, 'Rejected malformed AdmissionReview');
      return reply.code(400).send(buildErrorBody(decision.code, decision.reason));
    }
    const level = decision.result === 'error' ? 'error' : decision.result === 'injected' ? 'info' : 'debug';
    request.log[level]({ uid: decision.review.response.uid, result: decision.result, warnings: decision.warnings.length > 0 ? decision.warnings : undefined }, decision.message);
    return reply.code(200).send(decision.review);
  });

  app.post(INTERCEPTS_PATH, { onRequest: requireJson }, async (request, reply) => {
    const started = now();
    const read = readAdmissionReview(request.body);
    if (!read.ok) {
      deps.metrics.observeAdmission('malformed', 0);
      return reply.code(400).send(buildErrorBody(read.code, read.reason));
    }
    const r = read.request as InterceptAdmissionRequest;
    const workload = workloadOfObject(r.object);
    let ctx: PolicyContext = { policies: [] };
    if (workload && (r.operation === 'CREATE' || r.operation === 'UPDATE')) {
      if (!deps.policyContext) return reply.code(200).send(buildInterceptReview(buildDenied(r.uid, 'the detour webhook cannot read InterceptPolicies (no API access); Intercepts are refused until it can')));
      try {
        ctx = await deps.policyContext(r.namespace ?? '', workload);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        request.log.warn({ uid: r.uid, code }, 'Failed to read InterceptPolicies; refused the Intercept');
        deps.metrics.admissions.inc({ result: 'intercept_error' });
        return reply.code(200).send(buildInterceptReview(buildDenied(r.uid, `the detour webhook could not read InterceptPolicies (${typeof code === 'number' ? `HTTP ${code}` : 'API unreachable'}); try again`, 503)));
      }
    }
    const decision = planInterceptAdmission(r, ctx);
    deps.metrics.observeAdmission(`intercept_${decision.result}` as never, Math.max(0, now() - started) / 1000);
    request.log.info({ uid: r.uid, user: r.userInfo?.username, operation: r.operation, result: decision.result, policy: decision.policy, dryRun: r.dryRun === true }, decision.message);
    return reply.code(200).send(buildInterceptReview(decision.response));
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = deps.isReady ? deps.isReady() : true;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
  return app;
}

function observeCertificate(metrics: WebhookMetrics, pair: KeyPairPem): void {
  try {
    metrics.certificateNotAfter.set(certificateValidity(pair.certPem).notAfter.getTime() / 1000);
  } catch { /* the secure context check reports unusable certificates */ }
}

/**
 * Replaces the certificate of a running HTTPS app without a restart: new connections get the new
 * one, open connections keep theirs. Throws (and keeps the old certificate) when the pair is unusable.
 */
export function reloadServingCertificate(app: WebhookApp, pair: KeyPairPem, metrics: WebhookMetrics): void {
  const server = app.server as unknown as Partial<HttpsServer>;
  if (typeof server.setSecureContext !== 'function') throw new Error('the app was not built with tls');
  try {
    createSecureContext({ cert: pair.certPem, key: pair.keyPem }); // fails on a mismatched or garbled pair
    server.setSecureContext({ cert: pair.certPem, key: pair.keyPem, minVersion: 'TLSv1.2' });
  } catch (err) {
    metrics.certificateReloads.inc({ outcome: 'failure' });
    throw err;
  }
  metrics.certificateReloads.inc({ outcome: 'success' });
  observeCertificate(metrics, pair);
}

/** GET /metrics on its own port. */
export function buildMetricsApp(registry: Registry, logger: Logger): FastifyInstance {
  const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }) }) as unknown as FastifyInstance;
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  return app;
}
