// The tunnel machinery behind the tunnel port (sidecar/tunnel-server.ts), loaded on the first
// authenticated upgrade rather than at start (an idle sidecar with no developer never loads the
// WebSocket server, HTTP/2 sessions or the outbound server): each accepted WebSocket carries one
// HTTP/2 connection (sidecar = client) registered under the intercepts its token matched, in the
// mode negotiated in the upgrade. See core/tunnel/protocol.ts and docs/tunnel-protocol.md.

import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RoutingTable } from '../core/routing/table.js';
import { connectH2OverWebSocket } from '../core/tunnel/h2-over-websocket.js';
import { startHeartbeat } from '../core/tunnel/heartbeat.js';
import { pickSubprotocol, tunnelModeOf, type TunnelMode } from '../core/tunnel/negotiation.js';
import { CLOSE, TUNNEL_DRAIN_MS, TUNNEL_DRAIN_SETTING, TUNNEL_MAX_MESSAGE_BYTES, TUNNEL_PING_INTERVAL_MS } from '../core/tunnel/protocol.js';
import { webSocketDuplex } from '../core/tunnel/websocket-duplex.js';
import { buildOutboundServer, type OutboundServer } from './outbound.js';
import { tunnelStillAuthorized } from './tunnel-auth.js';
import type { TunnelPeer } from './tunnel-registry.js';
import type { TunnelServerDeps } from './tunnel-server.js';

export interface TunnelAttacher {
  /** Completes an authenticated inbound tunnel upgrade. */
  accept(req: IncomingMessage, socket: net.Socket, head: Buffer, auth: { intercepts: string[]; tokenHash: string }, remote: string): void;
  /** Completes an authenticated outbound upgrade (OUTBOUND_PATH). */
  acceptOutbound(req: IncomingMessage, socket: net.Socket, head: Buffer, auth: { intercepts: string[]; tokenHash: string }, remote: string): void;
  revokeStale(table: RoutingTable): void;
  close(): void;
}

export function buildTunnelAttacher(deps: TunnelServerDeps, speaks: readonly string[]): TunnelAttacher {
  const { logger, metrics, registry } = deps;
  let nextId = 1;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: TUNNEL_MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
    handleProtocols: (protocols) => pickSubprotocol(protocols, speaks) ?? false,
  });
  const outbound: OutboundServer | undefined = deps.outbound ? buildOutboundServer(deps.outbound) : undefined;

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
    accept(req, socket, head, auth, remote) {
      wss.handleUpgrade(req, socket, head, (ws) => attach(ws, auth.intercepts, auth.tokenHash, remote, tunnelModeOf(ws.protocol) ?? 'v1'));
    },
    acceptOutbound(req, socket, head, auth, remote) {
      outbound!.accept(req, socket, head, auth, remote);
    },
    revokeStale(table) {
      for (const peer of registry.all()) {
        if (!tunnelStillAuthorized(peer.tokenHash, peer.intercepts, table, deps.now())) {
          if (peer.retire(CLOSE.revoked, 'intercept no longer routed')) {
            logger.info({ tunnel: peer.id, intercepts: [...peer.intercepts] }, 'Revoked developer tunnel: its intercept is no longer routed');
          }
        }
      }
      outbound?.revokeStale(table);
    },
    close() {
      for (const peer of registry.all()) peer.close(CLOSE.goingAway, 'sidecar shutting down');
      for (const ws of wss.clients) ws.terminate();
      outbound?.close();
    },
  };
}
