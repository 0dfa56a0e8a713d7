// The tunnel endpoint: an HTTP server on its own port whose only job is authenticated WebSocket
// upgrades. It answers everything it refuses itself (426 for plain requests and for an offer of no
// tunnel protocol it speaks, 400, 401/403, 429/503) and loads the tunnel machinery
// (sidecar/tunnel-attach.ts: WebSocket server, HTTP/2 sessions, the outbound server) on the first
// authenticated upgrade, so a sidecar no developer connected to never loads it (idle memory, #16).
// Each accepted WebSocket carries one HTTP/2 connection (sidecar = client) registered under the
// intercepts its token matched. See core/tunnel/protocol.ts and docs/tunnel-protocol.md.

import http, { STATUS_CODES, type IncomingMessage } from 'node:http';
import type net from 'node:net';
import type { Logger } from '../core/logging.js';
import type { RoutingTable } from '../core/routing/table.js';
import { DEFAULT_SIDECAR_LIMITS } from '../core/sidecar-config.js';
import { explainRefusedOffer, parseProtocolList, pickSubprotocol, TUNNEL_SUBPROTOCOLS } from '../core/tunnel/negotiation.js';
import { PROTOCOLS_HEADER, TUNNEL_REASON_HEADER } from '../core/tunnel/protocol.js';
import { OUTBOUND_PATH } from '../core/tunnel/outbound-protocol.js';
import type { SidecarMetrics } from './metrics.js';
import type { OutboundServerDeps } from './outbound.js';
import type { TunnelAttacher } from './tunnel-attach.js';
import { authenticateTunnel } from './tunnel-auth.js';
import type { TunnelRegistry } from './tunnel-registry.js';

export interface TunnelServerDeps {
  logger: Logger;
  metrics: SidecarMetrics;
  registry: TunnelRegistry;
  /** The table currently served (for token hashes). */
  table: () => RoutingTable;
  now: () => number;
  pingIntervalMs?: number;
  /** Serves authenticated upgrades on OUTBOUND_PATH (sidecar/outbound.ts, built with the machinery); absent: refused with 404. */
  outbound?: OutboundServerDeps;
  /** How long a revoked tunnel's in-flight requests may take before it is closed anyway (default TUNNEL_DRAIN_MS). */
  drainMs?: number;
  limits?: TunnelLimits;
  /**
   * Tunnel subprotocols this sidecar accepts, newest first (default TUNNEL_SUBPROTOCOLS: v2, v1).
   * Tests pass [v1] to stand in for a v0.1.0 sidecar.
   */
  subprotocols?: readonly string[];
}

/** Bounds on developer tunnels: each can hold a 4 MiB WebSocket message in memory. */
export interface TunnelLimits {
  maxTunnels: number;
  maxTunnelsPerToken: number;
  /** Time an upgrade request head may take to arrive. */
  headersTimeoutMs: number;
}

export interface TunnelServer {
  server: http.Server;
  /** Retires (drains, then closes) tunnels whose intercept left the table, expired, or whose token changed. */
  revokeStale(table: RoutingTable): void;
  close(): Promise<void>;
}

function refuse(socket: net.Socket, status: number, reason: string, extra = ''): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n${TUNNEL_REASON_HEADER}: ${reason}\r\n${extra}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function isOutboundPath(url: string | undefined): boolean {
  const path = (url ?? '/').split('?')[0]!;
  return path === OUTBOUND_PATH;
}

export function buildTunnelServer(deps: TunnelServerDeps): TunnelServer {
  const { logger, metrics } = deps;
  const limits: TunnelLimits = deps.limits ?? {
    maxTunnels: DEFAULT_SIDECAR_LIMITS.maxTunnels, maxTunnelsPerToken: DEFAULT_SIDECAR_LIMITS.maxTunnelsPerToken, headersTimeoutMs: 30_000,
  };
  const speaks = deps.subprotocols ?? TUNNEL_SUBPROTOCOLS;
  // WebSockets attached (authenticated), by token hash: counted from the upgrade until the close.
  const attached = new Map<string, number>();
  let attachedTotal = 0;
  let attacher: TunnelAttacher | undefined;
  let loading: Promise<TunnelAttacher> | undefined;
  const machinery = (): Promise<TunnelAttacher> => loading ??= import('./tunnel-attach.js').then((m) => (attacher = m.buildTunnelAttacher(deps, speaks)));

  const server = http.createServer({ maxHeaderSize: 16 * 1024, headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.headersTimeoutMs }, (req, res) => {
    const body = 'this port serves Detour developer tunnels (WebSocket upgrade required)\n';
    res.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket', connection: 'Upgrade', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  // Sockets of attached tunnels stay counted; the rest is room for handshakes in progress.
  server.maxConnections = limits.maxTunnels + 64;
  server.on('drop', () => metrics.limitRefusals.inc({ limit: 'tunnel_connections' }));
  server.on('clientError', (_err, socket: net.Socket) => {
    if (socket.writable) refuse(socket, 400, 'malformed request');
    else socket.destroy();
  });

  server.on('upgrade', (req: IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      metrics.tunnelRefused.inc({ reason: 'bad_request' });
      refuse(socket, 400, 'only WebSocket upgrades are accepted');
      return;
    }
    const remote = req.socket.remoteAddress ?? '';
    // No common tunnel protocol: say which side to upgrade, and list what this sidecar speaks so the
    // CLI can say it in its own words (core/tunnel/negotiation.ts). Outbound has its own subprotocol.
    const offered = parseProtocolList(req.headers['sec-websocket-protocol']);
    if (!isOutboundPath(req.url) && pickSubprotocol(new Set(offered), speaks) === undefined) {
      metrics.tunnelRefused.inc({ reason: 'protocol' });
      const reason = explainRefusedOffer(offered, speaks);
      logger.warn({ remote, offered }, `Refused developer tunnel: ${reason}`);
      refuse(socket, 426, reason, `${PROTOCOLS_HEADER}: ${speaks.join(', ')}\r\nUpgrade: websocket\r\n`);
      return;
    }
    const auth = authenticateTunnel(req.headers, deps.table(), deps.now());
    if (!auth.ok) {
      metrics.tunnelRefused.inc({ reason: auth.code });
      logger.warn({ remote, status: auth.status, reason: auth.code }, 'Refused developer tunnel');
      refuse(socket, auth.status, auth.reason);
      return;
    }
    const limit = attachedTotal >= limits.maxTunnels ? 'tunnels' : (attached.get(auth.tokenHash) ?? 0) >= limits.maxTunnelsPerToken ? 'tunnels_per_token' : undefined;
    if (limit !== undefined) {
      metrics.limitRefusals.inc({ limit });
      logger.warn({ remote, intercepts: auth.intercepts, limit }, 'Refused developer tunnel: too many tunnels');
      refuse(socket, limit === 'tunnels' ? 503 : 429, limit === 'tunnels'
        ? `this sidecar already has ${limits.maxTunnels} developer tunnels`
        : `this token already has ${limits.maxTunnelsPerToken} tunnels to this sidecar`);
      return;
    }
    const hash = auth.tokenHash;
    attached.set(hash, (attached.get(hash) ?? 0) + 1);
    attachedTotal++;
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      attachedTotal--;
      const n = (attached.get(hash) ?? 1) - 1;
      if (n > 0) attached.set(hash, n); else attached.delete(hash);
    };
    socket.once('close', release);
    const outbound = isOutboundPath(req.url);
    if (outbound && !deps.outbound) { refuse(socket, 404, 'this sidecar does not serve outbound streams'); return; }
    const grant = { intercepts: auth.intercepts, tokenHash: auth.tokenHash };
    const go = (a: TunnelAttacher): void => {
      if (socket.destroyed) return;
      if (outbound) a.acceptOutbound(req, socket, head, grant, remote);
      else a.accept(req, socket, head, grant, remote);
    };
    if (attacher) { go(attacher); return; }
    machinery().then(go, (err: unknown) => {
      logger.error({ reason: err instanceof Error ? err.message : String(err) }, 'Could not load the tunnel machinery');
      refuse(socket, 503, 'tunnel machinery unavailable');
    });
  });

  return {
    server,
    revokeStale(table) {
      attacher?.revokeStale(table);
    },
    close: () => new Promise<void>((resolve) => {
      attacher?.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
