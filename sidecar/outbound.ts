// The sidecar end of outbound streams: developer → sidecar → any TCP destination the pod can reach.
// The tunnel server hands over authenticated WebSocket upgrades on OUTBOUND_PATH; each carries one
// HTTP/2 connection with the sidecar as server, and every CONNECT stream on it becomes one TCP
// connection dialled from the pod's network namespace (NetworkPolicy, mesh and source identity are
// the pod's). See core/tunnel/outbound-protocol.ts and docs/tunnel-protocol.md ("Outbound").
//
// Bounded buffering: stream.pipe(socket) pauses the HTTP/2 stream when the socket's write buffer is
// full (Node then withholds WINDOW_UPDATE, so the developer stops at the 1 MiB stream window), and
// socket.pipe(stream) stops reading the socket once the stream's send window is used up.

import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { IncomingMessage } from 'node:http';
import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { serveH2OverWebSocket } from '../core/tunnel/h2-over-websocket.js';
import net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../core/logging.js';
import type { RoutingTable } from '../core/routing/table.js';
import {
  classifyDialError, formatOutboundTarget, OUTBOUND_CONNECT_TIMEOUT_MS, OUTBOUND_ERROR_HEADER, OUTBOUND_SUBPROTOCOL, parseOutboundTarget,
  type OutboundErrorCode, type OutboundTarget,
} from '../core/tunnel/outbound-protocol.js';
import { startHeartbeat } from '../core/tunnel/heartbeat.js';
import { CLOSE, TUNNEL_MAX_MESSAGE_BYTES, TUNNEL_PING_INTERVAL_MS, TUNNEL_REASON_HEADER } from '../core/tunnel/protocol.js';
import { webSocketDuplex } from '../core/tunnel/websocket-duplex.js';
import type { OutboundMetrics } from './outbound-metrics.js';
import { tunnelStillAuthorized } from './tunnel-auth.js';

const { NGHTTP2_CONNECT_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** Resolves a host name to one address (node:dns lookup's callback form). */
export type LookupFn = (host: string, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void) => void;

export interface OutboundServerDeps {
  logger: Logger;
  metrics: OutboundMetrics;
  table: () => RoutingTable;
  now: () => number;
  /** Default: node:dns lookup (getaddrinfo, so the pod's /etc/resolv.conf search list applies). */
  lookup?: LookupFn;
  connectTimeoutMs?: number;
  pingIntervalMs?: number;
}

export interface OutboundServer {
  /** Takes over an upgrade the tunnel server authenticated. */
  accept(req: IncomingMessage, socket: net.Socket, head: Buffer, auth: { intercepts: string[]; tokenHash: string }, remote: string): void;
  /** Closes outbound tunnels whose token no longer matches a route of `table`. */
  revokeStale(table: RoutingTable): void;
  /** Outbound connections open right now. */
  readonly active: number;
  close(): void;
}

interface OutboundPeer {
  id: number;
  tokenHash: string;
  intercepts: ReadonlySet<string>;
  ws: WebSocket;
}

const defaultLookup: LookupFn = (host, cb) => {
  dnsLookup(host, { all: false }, (err, address: string | LookupAddress[], family?: number) => {
    cb(err, typeof address === 'string' ? address : '', family ?? 4);
  });
};

export function buildOutboundServer(deps: OutboundServerDeps): OutboundServer {
  const { logger, metrics } = deps;
  const lookup = deps.lookup ?? defaultLookup;
  const connectTimeoutMs = deps.connectTimeoutMs ?? OUTBOUND_CONNECT_TIMEOUT_MS;
  const peers = new Set<OutboundPeer>();
  let nextId = 1;
  let active = 0;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: TUNNEL_MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(OUTBOUND_SUBPROTOCOL) ? OUTBOUND_SUBPROTOCOL : false),
  });

  function attach(ws: WebSocket, auth: { intercepts: string[]; tokenHash: string }, remote: string): void {
    const peer: OutboundPeer = { id: nextId++, tokenHash: auth.tokenHash, intercepts: new Set(auth.intercepts), ws };
    peers.add(peer);
    const label = auth.intercepts.join(',');
    const duplex = webSocketDuplex(ws);
    let session: ServerHttp2Session | undefined;
    serveH2OverWebSocket(duplex, {
      onSession: (s) => {
        session = s;
        s.on('close', () => { if (ws.readyState === ws.OPEN) ws.close(CLOSE.protocolError, 'HTTP/2 session ended'); });
      },
      onStream: (stream, headers) => handleStream(stream, headers, label),
    });
    const stopHeartbeat = startHeartbeat(ws, deps.pingIntervalMs ?? TUNNEL_PING_INTERVAL_MS, () => {
      logger.warn({ tunnel: peer.id, intercepts: auth.intercepts }, 'Outbound tunnel stopped answering pings');
    });
    metrics.outboundTunnels.inc();
    logger.info({ tunnel: peer.id, intercepts: auth.intercepts, remote }, `Connected outbound tunnel for ${label}`);
    ws.on('error', () => { /* close follows */ });
    ws.once('close', (code: number) => {
      stopHeartbeat();
      session?.destroy(); // resets every stream: each local connection ends with an error at once
      peers.delete(peer);
      metrics.outboundTunnels.dec();
      logger.info({ tunnel: peer.id, intercepts: auth.intercepts, code }, `Disconnected outbound tunnel for ${label}`);
    });
  }

  function refuse(stream: ServerHttp2Stream, status: number, code: OutboundErrorCode, reason: string): void {
    if (stream.destroyed || stream.closed) return;
    try {
      stream.respond({ ':status': status, [OUTBOUND_ERROR_HEADER]: code, [TUNNEL_REASON_HEADER]: reason.slice(0, 300), 'content-type': 'text/plain; charset=utf-8' });
      stream.end(`${reason}\n`);
    } catch {
      stream.close(NGHTTP2_REFUSED_STREAM);
    }
  }

  function handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, intercepts: string): void {
    stream.on('error', () => { /* reported through close */ });
    if (headers[':method'] !== 'CONNECT') {
      metrics.outboundConnections.inc({ result: 'bad_target' });
      refuse(stream, 405, 'bad_target', 'outbound tunnels carry only CONNECT streams');
      return;
    }
    const target = parseOutboundTarget(String(headers[':authority'] ?? ''));
    if (typeof target === 'string') {
      metrics.outboundConnections.inc({ result: 'bad_target' });
      refuse(stream, 400, 'bad_target', target);
      return;
    }
    dial(stream, target, intercepts);
  }

  function dial(stream: ServerHttp2Stream, target: OutboundTarget, intercepts: string): void {
    const destination = formatOutboundTarget(target);
    const started = deps.now();
    let bytesUp = 0;
    let bytesDown = 0;
    let result: OutboundErrorCode | 'ok' | 'cancelled' = 'cancelled';
    let finished = false;
    let socket: net.Socket | undefined;
    active++;
    metrics.outboundActive.inc();

    const finish = (why: string | undefined): void => {
      if (finished) return;
      finished = true;
      active--;
      metrics.outboundActive.dec();
      metrics.outboundConnections.inc({ result });
      metrics.outboundBytes.inc({ direction: 'to_cluster' }, bytesUp);
      metrics.outboundBytes.inc({ direction: 'to_developer' }, bytesDown);
      const fields = { intercepts, destination, result, bytesToCluster: bytesUp, bytesToDeveloper: bytesDown, durationMs: deps.now() - started, ...(why ? { reason: why } : {}) };
      if (result === 'ok' || result === 'cancelled') logger.info(fields, `Closed outbound connection to ${destination}`);
      else logger.warn(fields, `Refused outbound connection to ${destination}: ${why ?? result}`);
    };

    stream.once('close', () => {
      socket?.destroy();
      finish(undefined);
    });

    const fail = (code: OutboundErrorCode, reason: string): void => {
      result = code;
      refuse(stream, 502, code, reason);
      finish(reason);
    };

    const isIp = net.isIP(target.host) !== 0;
    const onAddress = (address: string): void => {
      if (stream.destroyed || stream.closed) return;
      const s = net.connect({ host: address, port: target.port, allowHalfOpen: true });
      socket = s;
      const timer = setTimeout(() => {
        s.destroy();
        fail('timeout', `no answer from ${destination} (${address}) within ${Math.round(connectTimeoutMs / 1000)}s`);
      }, connectTimeoutMs);
      timer.unref();
      s.once('connect', () => {
        clearTimeout(timer);
        if (stream.destroyed || stream.closed) { s.destroy(); return; }
        s.setNoDelay(true);
        result = 'ok';
        stream.respond({ ':status': 200 });
        s.on('data', (c: Buffer) => { bytesDown += c.length; });
        stream.on('data', (c: Buffer) => { bytesUp += c.length; });
        s.pipe(stream);
        stream.pipe(s);
        s.once('close', () => { if (!stream.closed) stream.close(); });
      });
      s.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (result === 'ok') {
          // The connection broke after it was established: reset the stream (RFC 7540 §8.3).
          if (!stream.closed) stream.close(NGHTTP2_CONNECT_ERROR);
          finish(err.code ?? err.message);
          return;
        }
        const code = classifyDialError(err.code);
        fail(code, `cannot connect to ${destination}${address !== target.host ? ` (${address})` : ''}: ${err.code ?? err.message}`);
      });
    };
    if (isIp) { onAddress(target.host); return; }
    lookup(target.host, (err, address) => {
      if (err || !address) {
        fail('dns', `cannot resolve ${target.host} in the pod: ${err?.code ?? 'no address'}`);
        return;
      }
      onAddress(address);
    });
  }

  return {
    accept(req, socket, head, auth, remote) {
      wss.handleUpgrade(req, socket, head, (ws) => attach(ws, auth, remote));
    },
    revokeStale(table) {
      for (const peer of peers) {
        if (!tunnelStillAuthorized(peer.tokenHash, peer.intercepts, table, deps.now())) {
          logger.info({ tunnel: peer.id, intercepts: [...peer.intercepts] }, 'Revoked outbound tunnel: its intercept is no longer routed');
          peer.ws.close(CLOSE.revoked, 'intercept no longer routed');
        }
      }
    },
    get active() { return active; },
    close() {
      for (const peer of peers) peer.ws.terminate();
      for (const ws of wss.clients) ws.terminate();
    },
  };
}
