// The tunnel endpoint: an HTTP server on its own port whose only job is authenticated WebSocket
// upgrades. Each accepted WebSocket carries one HTTP/2 connection (sidecar = client) registered
// under the intercepts its token matched. See core/tunnel/protocol.ts and docs/tunnel-protocol.md.

import http, { STATUS_CODES, type IncomingMessage } from 'node:http';
import type net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../core/logging.js';
import type { RoutingTable } from '../core/routing/table.js';
import { DEFAULT_SIDECAR_LIMITS } from '../core/sidecar-config.js';
import { connectH2OverWebSocket } from '../core/tunnel/h2-over-websocket.js';
import { explainRefusedOffer, parseProtocolList, pickSubprotocol, TUNNEL_SUBPROTOCOLS, tunnelModeOf, type TunnelMode } from '../core/tunnel/negotiation.js';
import {
  CLOSE, PROTOCOLS_HEADER, TUNNEL_DRAIN_MS, TUNNEL_DRAIN_SETTING, TUNNEL_MAX_MESSAGE_BYTES, TUNNEL_PING_INTERVAL_MS, TUNNEL_REASON_HEADER,
} from '../core/tunnel/protocol.js';
import { startHeartbeat, webSocketDuplex } from '../core/tunnel/websocket-duplex.js';
import { OUTBOUND_PATH } from '../core/tunnel/outbound-protocol.js';
import type { SidecarMetrics } from './metrics.js';
import type { OutboundServer } from './outbound.js';
import { authenticateTunnel, tunnelStillAuthorized } from './tunnel-auth.js';
import type { TunnelPeer, TunnelRegistry } from './tunnel-registry.js';

export interface TunnelServerDeps {
  logger: Logger;
  metrics: SidecarMetrics;
  registry: TunnelRegistry;
  /** The table currently served (for token hashes). */
  table: () => RoutingTable;
  now: () => number;
  pingIntervalMs?: number;
  /** Takes authenticated upgrades on OUTBOUND_PATH (sidecar/outbound.ts); absent: refused with 404. */
  outbound?: Pick<OutboundServer, 'accept'>;
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
  const { logger, metrics, registry } = deps;
  let nextId = 1;
  const limits: TunnelLimits = deps.limits ?? {
    maxTunnels: DEFAULT_SIDECAR_LIMITS.maxTunnels, maxTunnelsPerToken: DEFAULT_SIDECAR_LIMITS.maxTunnelsPerToken, headersTimeoutMs: 30_000,
  };
  const speaks = deps.subprotocols ?? TUNNEL_SUBPROTOCOLS;
  // WebSockets attached (authenticated), by token hash: counted from the upgrade until the close.
  const attached = new Map<string, number>();
  let attachedTotal = 0;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: TUNNEL_MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
    handleProtocols: (protocols) => pickSubprotocol(protocols, speaks) ?? false,
  });

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
    if (isOutboundPath(req.url)) {
      if (deps.outbound) deps.outbound.accept(req, socket, head, auth, remote);
      else refuse(socket, 404, 'this sidecar does not serve outbound streams');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws, auth.intercepts, auth.tokenHash, remote, tunnelModeOf(ws.protocol) ?? 'v1'));
  });

  function attach(ws: WebSocket, intercepts: string[], tokenHash: string, remote: string, mode: TunnelMode): void {
    const id = nextId++;
    const label = intercepts.join(',');
    const bytesIn = metrics.tunnelBytes.labels(label, 'from_developer');
    const bytesOut = metrics.tunnelBytes.labels(label, 'to_developer');
    let retiring: { code: number; reason: string } | undefined;
    const duplex = webSocketDuplex(ws, {
      onBytesIn: (n) => bytesIn.inc(n), onBytesOut: (n) => bytesOut.inc(n),
      closeOnEnd: () => retiring ?? { code: CLOSE.normal, reason: 'developer tunnel drained' },
    });
    const session = connectH2OverWebSocket(duplex, { remoteCustomSettings: [TUNNEL_DRAIN_SETTING] });
    const peer: TunnelPeer = {
      id, intercepts: new Set(intercepts), tokenHash, session, mode, remoteAddress: remote, connectedAt: deps.now(),
      close: (code, reason) => {
        unregister(); // no new request picks this tunnel from now on
        if (ws.readyState === ws.OPEN) ws.close(code, reason); else ws.terminate();
      },
      retire: (code, reason) => {
        if (retiring !== undefined) return false;
        retiring = { code, reason };
        if (!registered) { peer.close(code, reason); return true; }
        startDraining();
        // Node's client session: no new streams from here, GOAWAY to the developer, and the session
        // closes by itself once the streams in flight ended (then 'close' below closes the WebSocket).
        try { session.close(); } catch { /* already closing */ }
        const timer = setTimeout(() => peer.close(code, reason), deps.drainMs ?? TUNNEL_DRAIN_MS);
        timer.unref();
        ws.once('close', () => clearTimeout(timer));
        return true;
      },
    };
    let registered = false;
    let counted = false;
    const uncount = (): void => {
      if (!counted) return;
      counted = false;
      for (const i of intercepts) metrics.tunnelClients.labels(i).dec();
    };
    const startDraining = (): void => {
      if (!registered || !registry.drain(peer)) return;
      uncount();
      logger.info({ tunnel: id, intercepts, by: retiring === undefined ? 'developer' : 'sidecar' }, `Draining developer tunnel for ${label}`);
    };
    const unregister = (): void => {
      if (!registered) return;
      registered = false;
      uncount();
      registry.remove(peer);
    };
    session.on('error', (err: NodeJS.ErrnoException) => {
      logger.warn({ tunnel: id, intercepts, code: err.code ?? 'error' }, 'Closed developer tunnel after an HTTP/2 error');
    });
    // Registered once the developer's HTTP/2 SETTINGS arrive: proof it speaks the protocol.
    session.once('remoteSettings', () => {
      if (ws.readyState !== ws.OPEN) return;
      if (!tunnelStillAuthorized(tokenHash, peer.intercepts, deps.table(), deps.now())) {
        peer.close(CLOSE.revoked, 'intercept no longer routed');
        return;
      }
      registered = true;
      counted = true;
      registry.add(peer);
      for (const i of intercepts) metrics.tunnelClients.labels(i).inc();
      logger.info({ tunnel: id, intercepts, remote, protocol: ws.protocol }, `Connected developer tunnel for ${label}`);
    });
    // The developer drains (it is leaving): route nothing new here; streams in flight finish.
    session.on('remoteSettings', (settings) => {
      if (settings.customSettings?.[TUNNEL_DRAIN_SETTING] === 1) startDraining();
    });
    session.on('close', () => {
      if (ws.readyState !== ws.OPEN) return;
      if (retiring !== undefined) ws.close(retiring.code, retiring.reason);
      else ws.close(CLOSE.protocolError, 'HTTP/2 session ended');
    });
    const stopHeartbeat = startHeartbeat(ws, deps.pingIntervalMs ?? TUNNEL_PING_INTERVAL_MS, () => {
      logger.warn({ tunnel: id, intercepts }, 'Developer tunnel stopped answering pings');
    });
    ws.on('error', () => { /* close follows */ });
    ws.once('close', (code: number) => {
      stopHeartbeat();
      session.destroy(); // fails every in-flight stream at once
      if (registered) logger.info({ tunnel: id, intercepts, code }, `Disconnected developer tunnel for ${label}`);
      unregister();
    });
  }

  return {
    server,
    revokeStale(table) {
      for (const peer of registry.all()) {
        if (!tunnelStillAuthorized(peer.tokenHash, peer.intercepts, table, deps.now())) {
          if (peer.retire(CLOSE.revoked, 'intercept no longer routed')) {
            logger.info({ tunnel: peer.id, intercepts: [...peer.intercepts] }, 'Revoked developer tunnel: its intercept is no longer routed');
          }
        }
      }
    },
    close: () => new Promise<void>((resolve) => {
      for (const peer of registry.all()) peer.close(CLOSE.goingAway, 'sidecar shutting down');
      for (const ws of wss.clients) ws.terminate();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
