// Assembles the sidecar from its parts: one proxy listener per taken-over port, the tunnel server,
// the admin server and the control client. `buildSidecar` wires; `start` listens; `stop` drains.

import type http from 'node:http';
import type net from 'node:net';
import type { Registry } from 'prom-client';
import type { ReportMessage } from '../core/control/protocol.js';
import type { Logger } from '../core/logging.js';
import { invalidRoutes } from '../core/routing/match.js';
import type { RoutingTable, WorkloadRef } from '../core/routing/table.js';
import { DEFAULT_SIDECAR_LIMITS, type SidecarLimits, type TakenOverPort } from '../core/sidecar-config.js';
import type WebSocket from 'ws';
import { buildAdminServer } from './admin.js';
import { buildAppUpstream, type AppUpstream } from './app-upstream.js';
import { buildControlClient, type ControlClient } from './control-client.js';
import { buildSidecarMetrics, type SidecarMetrics } from './metrics.js';
import { buildOutboundMetrics } from './outbound-metrics.js';
import type { LookupFn } from './outbound.js';
import { buildProxyLimits, buildProxyListener, type ProxyListener } from './proxy.js';
import { Router } from './router.js';
import { fetchInterceptsWithSeries, planGoneIntercepts, removeInterceptSeries } from './intercept-series.js';
import { InterceptStats } from './stats.js';
import { buildTunnelServer, type TunnelServer } from './tunnel-server.js';
import { TunnelRegistry } from './tunnel-registry.js';

export interface SidecarOptions {
  podName: string;
  workload: WorkloadRef;
  ports: TakenOverPort[];
  /** Where the app listens (default 127.0.0.1). */
  appHost?: string;
  /** Address the sidecar's listeners bind (default: all interfaces). */
  bindHost?: string;
  tunnelPort: number;
  adminPort: number;
  /** Absent: no operator (pass-through until setTable is called). */
  control?: { url: string; readToken: () => Promise<string>; webSocketOptions?: WebSocket.ClientOptions; reportIntervalMs?: number };
  logger: Logger;
  registry: Registry;
  now: () => number;
  tunnelPingIntervalMs?: number;
  maxHeaderSize?: number;
  /** Resource limits (defaults: DEFAULT_SIDECAR_LIMITS). Fractional seconds are fine here (tests). */
  limits?: Partial<SidecarLimits>;
  /** How outbound streams resolve names (default: the pod's resolver through getaddrinfo). */
  outboundLookup?: LookupFn;
  /** Tunnel subprotocols accepted, newest first (default: all this build speaks; tests stand in for older sidecars). */
  tunnelSubprotocols?: readonly string[];
}

export interface SidecarAddresses {
  /** The taken-over ports with the ports really bound (differs from the options when 0 was asked). */
  ports: TakenOverPort[];
  tunnelPort: number;
  adminPort: number;
}

export interface Sidecar {
  start(): Promise<SidecarAddresses>;
  /** Stops listening; open connections get `graceMs` (default 5 s) to finish. */
  stop(graceMs?: number): Promise<void>;
  /** Offers a table (as the control client does); returns the table served afterwards. */
  setTable(table: RoutingTable): RoutingTable;
  report(): ReportMessage;
  readonly router: Router;
  readonly registry: TunnelRegistry;
  readonly metrics: SidecarMetrics;
  readonly ready: boolean;
}

function listen(server: net.Server | http.Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
    });
  });
}

export function buildSidecar(options: SidecarOptions): Sidecar {
  const { logger, registry: promRegistry, now } = options;
  const metrics = buildSidecarMetrics(promRegistry);
  const registry = new TunnelRegistry();
  const stats = new InterceptStats();
  const router = new Router({ ports: options.ports, registry, workload: options.workload, now });
  const appHost = options.appHost ?? '127.0.0.1';
  const limits: SidecarLimits = { ...DEFAULT_SIDECAR_LIMITS, ...options.limits };
  const proxyLimits = buildProxyLimits(limits);
  const upstreams: AppUpstream[] = [];
  const listeners: ProxyListener[] = options.ports.map((port) => {
    const app = buildAppUpstream(appHost, port.appPort, logger);
    upstreams.push(app);
    return buildProxyListener({ port, router, app, metrics, stats, logger, maxHeaderSize: options.maxHeaderSize, limits: proxyLimits });
  });
  // The tunnel and outbound machinery load on the first authenticated upgrade (tunnel-server.ts).
  const outbound = {
    logger, metrics: buildOutboundMetrics(promRegistry), table: () => router.table, now, pingIntervalMs: options.tunnelPingIntervalMs,
    ...(options.outboundLookup ? { lookup: options.outboundLookup } : {}),
  };
  const tunnels: TunnelServer = buildTunnelServer({
    logger, metrics, registry, table: () => router.table, now, pingIntervalMs: options.tunnelPingIntervalMs, outbound,
    limits: { maxTunnels: limits.maxTunnels, maxTunnelsPerToken: limits.maxTunnelsPerToken, headersTimeoutMs: limits.headersTimeoutSeconds * 1000 },
    ...(options.tunnelSubprotocols ? { subprotocols: options.tunnelSubprotocols } : {}),
  });
  let ready = false;
  let control: ControlClient | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;

  const report = (): ReportMessage => ({
    type: 'report',
    pod: options.podName,
    intercepts: stats.snapshot(router.table.routes.map((r) => r.intercept), registry.counts()),
  });

  const setTable = (table: RoutingTable): RoutingTable => {
    const before = router.table;
    if (!router.setTable(table)) {
      logger.debug({ epoch: table.epoch, version: table.version, serving: before.version }, 'Ignored stale routing table');
      return router.table;
    }
    metrics.tableVersion.set(table.version);
    for (const bad of invalidRoutes(table)) logger.warn({ intercept: bad.intercept, reason: bad.reason }, `Ignored route of intercept ${bad.intercept}`);
    logger.info({ epoch: table.epoch, version: table.version, routes: table.routes.length }, `Applied routing table version ${table.version} for ${table.workload.namespace}/${table.workload.name}`);
    tunnels.revokeStale(table);
    control?.reportSoon();
    sweepSoon();
    return router.table;
  };

  // Forget intercepts that are gone (not in the table, no tunnel left): their series, counts and
  // cached metric children. Runs after table and tunnel changes and with the expiry check, one at
  // a time; a request still finishing for a gone intercept recreates a series the next run removes.
  let sweeping = false;
  let sweepAgain = false;
  const forgetGone = async (): Promise<void> => {
    if (sweeping) { sweepAgain = true; return; }
    sweeping = true;
    try {
      do {
        sweepAgain = false;
        const tunnelLabels = new Set(registry.all().map((p) => [...p.intercepts].join(',')));
        const present = new Set([...stats.intercepts(), ...(await fetchInterceptsWithSeries(metrics))]);
        const gone = planGoneIntercepts(present, router.table.routes.map((r) => r.intercept), [...tunnelLabels, ...registry.intercepts()]);
        if (gone.size === 0) continue;
        for (const i of gone) { stats.forget(i); for (const l of listeners) l.forget(i); }
        const removed = await removeInterceptSeries(metrics, gone, tunnelLabels);
        logger.debug({ intercepts: [...gone], series: removed }, 'Forgot intercepts that left the routing table');
      } while (sweepAgain);
    } catch (err) {
      logger.warn({ reason: err instanceof Error ? err.message : String(err) }, 'Could not forget intercepts that left the routing table');
    } finally {
      sweeping = false;
    }
  };
  const sweepSoon = (): void => { void forgetGone(); };

  registry.onChange(() => { control?.reportSoon(); sweepSoon(); });

  if (options.control) {
    control = buildControlClient({
      url: options.control.url,
      readToken: options.control.readToken,
      webSocketOptions: options.control.webSocketOptions,
      reportIntervalMs: options.control.reportIntervalMs,
      logger,
      onTable: setTable,
      report,
      onConnectedChange: (c) => metrics.controlConnected.set(c ? 1 : 0),
    });
  }
  const admin = buildAdminServer({
    registry: promRegistry,
    ready: () => ready,
    status: () => ({ tableVersion: router.table.version, tableEpoch: router.table.epoch, operatorConnected: control?.connected ?? false, tunnels: registry.all().length }),
  });

  return {
    router, registry, metrics, report, setTable,
    get ready() { return ready; },
    async start() {
      const ports: TakenOverPort[] = [];
      for (let i = 0; i < listeners.length; i++) {
        const p = options.ports[i]!;
        const bound = await listen(listeners[i]!.server, p.listenPort, options.bindHost);
        ports.push({ ...p, listenPort: bound });
        logger.info({ port: p.name ?? p.appPort, listenPort: bound, appPort: p.appPort }, `Listening for port ${p.name ?? p.appPort} on ${bound}`);
      }
      const tunnelPort = await listen(tunnels.server, options.tunnelPort, options.bindHost);
      const adminPort = await listen(admin, options.adminPort, options.bindHost);
      ready = true;
      control?.start();
      expiryTimer = setInterval(() => { tunnels.revokeStale(router.table); sweepSoon(); }, 5_000);
      expiryTimer.unref();
      logger.info({ tunnelPort, adminPort, pod: options.podName }, 'Started sidecar');
      return { ports, tunnelPort, adminPort };
    },
    async stop(graceMs = 5_000) {
      ready = false;
      if (expiryTimer) clearInterval(expiryTimer);
      await control?.stop();
      await Promise.all([...listeners.map((l) => l.close(graceMs)), tunnels.close(), new Promise<void>((r) => { admin.close(() => r()); admin.closeAllConnections(); })]);
      for (const u of upstreams) u.close();
      logger.info('Stopped sidecar');
    },
  };
}
