// What every protocol path of one taken-over port's listener shares: its dependencies, limits, the
// per-request metric series and the one `record` that counts (and logs the failure of) a request.

import type { Counter, Gauge, Histogram } from 'prom-client';
import type { Logger } from '../core/logging.js';
import { DEFAULT_SIDECAR_LIMITS, type SidecarLimits, type TakenOverPort } from '../core/sidecar-config.js';
import type { AppUpstream } from './app-upstream.js';
import type { RequestResult, SidecarMetrics } from './metrics.js';
import type { Router } from './router.js';
import type { InterceptStats } from './stats.js';

export interface ProxyDeps {
  port: TakenOverPort;
  router: Router;
  app: AppUpstream;
  metrics: SidecarMetrics;
  stats: InterceptStats;
  logger: Logger;
  /** Largest request header block accepted (bytes); larger gets 431. */
  maxHeaderSize?: number;
  limits?: Partial<ProxyLimits>;
}

/** Resource limits of one listener (docs/sidecar.md, "Limits"). Times in milliseconds. */
export interface ProxyLimits {
  /** Connections open at once; at the limit the oldest idle one is closed, and with none idle the new one is. */
  maxConnections: number;
  /** Time an HTTP/1 request (head and body) may take to arrive; 0 = none. Answered 408 (or closed once answering). */
  requestTimeoutMs: number;
  /** Time a new connection may take to send its first bytes, and an HTTP/1 request its head. */
  headersTimeoutMs: number;
  /** An h2c connection without open streams for this long is closed with GOAWAY. */
  idleTimeoutMs: number;
}

/** The listener's share of the sidecar's limits (seconds → milliseconds). */
export function buildProxyLimits(limits: SidecarLimits): ProxyLimits {
  return {
    maxConnections: limits.maxConnections,
    requestTimeoutMs: limits.requestTimeoutSeconds * 1000,
    headersTimeoutMs: limits.headersTimeoutSeconds * 1000,
    idleTimeoutMs: limits.idleTimeoutSeconds * 1000,
  };
}

const DEFAULT_PROXY_LIMITS = buildProxyLimits(DEFAULT_SIDECAR_LIMITS);

/** Idle HTTP/1.1 keep-alive connections close after this long. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * The metric series one listener updates per request. prom-client's `labels()` validates and
 * hashes its arguments on every call, so each child is looked up once per intercept and result.
 */
export interface ListenerMetrics {
  /** Counts a finished request once, with its duration. */
  record(result: RequestResult, intercept: string, startedAt: number): void;
  /** The in-flight tunnel streams gauge of an intercept. */
  activeStreams(intercept: string): Gauge.Internal<'intercept'>;
  /** Forgets the cached children of an intercept (its series are being removed). */
  forget(intercept: string): void;
}

function listenerMetrics(deps: ProxyDeps): ListenerMetrics {
  const port = String(deps.port.name ?? deps.port.appPort);
  const { requests, duration, activeStreams } = deps.metrics;
  const counters = new Map<string, Map<RequestResult, Counter.Internal>>();
  const durations = new Map<RequestResult, Histogram.Internal<'result'>>();
  const gauges = new Map<string, Gauge.Internal<'intercept'>>();
  return {
    record(result, intercept, startedAt) {
      let byResult = counters.get(intercept);
      if (byResult === undefined) counters.set(intercept, byResult = new Map());
      let counter = byResult.get(result);
      if (counter === undefined) byResult.set(result, counter = requests.labels(port, intercept, result));
      let histogram = durations.get(result);
      if (histogram === undefined) durations.set(result, histogram = duration.labels(result));
      counter.inc();
      histogram.observe((performance.now() - startedAt) / 1000);
    },
    activeStreams(intercept) {
      let gauge = gauges.get(intercept);
      if (gauge === undefined) gauges.set(intercept, gauge = activeStreams.labels(intercept));
      return gauge;
    },
    forget(intercept) {
      counters.delete(intercept);
      gauges.delete(intercept);
    },
  };
}

export interface ProxyContext {
  deps: ProxyDeps;
  appPort: number;
  /** The port as logs name it. */
  portLabel: string | number;
  limits: ProxyLimits;
  maxHeaderSize: number;
  series: ListenerMetrics;
  /** Counts one finished request; `detail` (a 502's cause) goes to the log. */
  record(result: RequestResult, intercept: string, startedAt: number, detail?: string): void;
  /** Connection-limit bookkeeping: a request on `socket` started (+1) or ended (−1). */
  markBusy(socket: object, n: number): void;
}

export function buildProxyContext(deps: ProxyDeps, markBusy: (socket: object, n: number) => void): ProxyContext {
  const series = listenerMetrics(deps);
  const portLabel = deps.port.name ?? deps.port.appPort;
  return {
    deps,
    appPort: deps.port.appPort,
    portLabel,
    limits: { ...DEFAULT_PROXY_LIMITS, ...deps.limits },
    maxHeaderSize: deps.maxHeaderSize ?? 16 * 1024,
    series,
    markBusy,
    record(result, intercept, startedAt, detail) {
      if (detail !== undefined) deps.logger.warn({ port: portLabel, intercept: intercept || undefined }, `Answered 502: ${detail}`);
      series.record(result, intercept, startedAt);
    },
  };
}
