// The developer end of the tunnel: what the detour CLI calls to serve an intercept from a laptop.
//
//   import { connectTunnel } from '../core/tunnel/developer.js';
//
//   // One connection; resolves once the sidecar accepted the token and routes to the tunnel (it
//   // acknowledged our HTTP/2 SETTINGS), rejects with
//   // TunnelRefusedError (status 401/403 + reason) or a network error.
//   const tunnel = await connectTunnel({
//     url: 'ws://127.0.0.1:15021/tunnel',   // direct, port-forwarded, or the pod proxy URL
//     token,                                 // the Intercept's token (from its Secret)
//     target: 'http://127.0.0.1:3000',       // the local service
//     onRequest: (e) => console.log(e.method, e.path, e.status),
//   });
//   await tunnel.closed;                     // { code, reason } when the tunnel ends
//   await tunnel.close();                    // or end it yourself: drains first (no new requests
//                                            // reach it, in-flight ones finish, ≤ 10 s), then closes
//
//   tunnel.protocol                          // the subprotocol negotiated (detour-tunnel.v2 / .v1)
//
// Reconnecting is the caller's (cli/replica-tunnel.ts keeps one tunnel per replica up).
// Through the Kubernetes API (pod proxy subresource) pass the API credentials with `headers` /
// `webSocketOptions` and set `tokenHeader: 'x-detour-token'` (the API server consumes
// `Authorization`). Requests arrive as HTTP/2 streams (see protocol.ts) and are forwarded to
// `target`: HTTP/1.1 requests as their own bytes onto pooled keep-alive connections (v2,
// http1-bytes-forward.ts) or, as HTTP/2 requests (v1 sidecars, Mirror copies), through Node's
// keep-alive agent; h2c for requests that reached the sidecar over HTTP/2 (gRPC); WebSocket/Upgrade
// requests as upgrades. Mirrored copies are forwarded too; their answers go nowhere.

import http from 'node:http';
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { forwardHttp1Bytes } from './http1-bytes-forward.js';
import { serveH2OverWebSocket } from './h2-over-websocket.js';
import { buildLocalConnectionPool } from './local-connection-pool.js';
import { TUNNEL_SUBPROTOCOLS } from './negotiation.js';
import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import type { Logger } from '../logging.js';
import { forwardH2Stream, respondH2Error } from './h2-forward.js';
import { cleanTrailers, endToEndHeaders, h2ToHttp1Headers, http1ResponseToH2 } from './headers.js';
import {
  CLOSE, INTERCEPT_HEADER, METHOD_HEADER, MIRROR_HEADER, PROTO_HEADER, STATUS_HEADER, TUNNEL_DRAIN_MS, TUNNEL_DRAIN_SETTING, TUNNEL_PING_INTERVAL_MS, UPGRADE_HEADER,
} from './protocol.js';
import { openTunnelWebSocket } from './tunnel-websocket.js';
import { startHeartbeat } from './heartbeat.js';
import { webSocketDuplex } from './websocket-duplex.js';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;

/** One request served through the tunnel, reported when it is over. */
export interface TunnelRequestEvent {
  id: number;
  method: string;
  path: string;
  /** Status the local server answered (502 when it could not be reached; 101 for upgrades). */
  status: number;
  durationMs: number;
  /** `namespace/name` of the Intercept the request matched, as the sidecar says. */
  intercept?: string;
  /** A Mirror copy: the local answer is discarded by the sidecar. */
  mirror: boolean;
  upgrade: boolean;
  /** How the request reached the sidecar (and how it is sent to the local server). */
  protocol: 'http1' | 'h2';
  error?: string;
}

export interface ConnectTunnelOptions {
  /** ws:// or wss:// URL of the sidecar's tunnel endpoint (direct, port-forwarded or pod proxy). */
  url: string;
  /** The Intercept's token. Sent only in the upgrade request; never logged. */
  token: string;
  /** Base URL of the local service, e.g. `http://127.0.0.1:3000`. */
  target: string;
  /** Where the token goes: `authorization` (default, `Bearer`) or `x-detour-token` (for the pod proxy). */
  tokenHeader?: 'authorization' | 'x-detour-token';
  /** Extra headers on the upgrade request (e.g. Kubernetes API credentials). */
  headers?: Record<string, string>;
  /** Passed to `ws` (TLS `ca`/`cert`/`key`, `agent`, `handshakeTimeout`, …). */
  webSocketOptions?: WebSocket.ClientOptions;
  logger?: Logger;
  /** Called after every request served. */
  onRequest?: (event: TunnelRequestEvent) => void;
  /** Called when a request starts (for live views). */
  onRequestStart?: (event: Pick<TunnelRequestEvent, 'id' | 'method' | 'path' | 'intercept' | 'mirror' | 'upgrade' | 'protocol'>) => void;
  pingIntervalMs?: number;
  /** Subprotocols offered, newest first (default TUNNEL_SUBPROTOCOLS: v2, v1); tests offer v1 only to act as an older CLI. */
  subprotocols?: readonly string[];
}

export interface TunnelCloseInfo {
  code: number;
  reason: string;
}

export interface TunnelCloseOptions {
  /**
   * How long in-flight requests may take to finish before the tunnel closes anyway (default
   * TUNNEL_DRAIN_MS, 10 s). 0: close at once (in-flight requests fail on the sidecar side with 502).
   */
  drainMs?: number;
}

export interface Tunnel {
  /** Resolves when the tunnel ends, for whatever reason. */
  readonly closed: Promise<TunnelCloseInfo>;
  /** Streams in flight right now. */
  readonly activeStreams: number;
  /** The subprotocol the sidecar chose (`detour-tunnel.v2`, or `.v1` from an older sidecar). */
  readonly protocol: string;
  /**
   * Ends the tunnel gracefully: tells the sidecar it drains (no new request is sent here; matching
   * requests follow the fallback), waits for the requests in flight (at most `drainMs`), then closes
   * with a WebSocket close handshake. See docs/tunnel-protocol.md, "Draining".
   */
  close(options?: TunnelCloseOptions): Promise<TunnelCloseInfo>;
  /** Drops the connection at once, without a close handshake (as a crashed laptop would). */
  terminate(): Promise<TunnelCloseInfo>;
}

export { maskingProtectsNothing, TunnelProtocolError, TunnelRefusedError } from './tunnel-websocket.js';

/** Opens one tunnel and serves it until it closes. See the header comment. */
export async function connectTunnel(options: ConnectTunnelOptions): Promise<Tunnel> {
  const target = new URL(options.target);
  if (target.protocol !== 'http:') throw new Error(`target must be an http:// URL, got ${target.protocol}`);
  const ws = await openTunnelWebSocket(options, options.subprotocols ?? TUNNEL_SUBPROTOCOLS);
  const { tunnel, acknowledged } = serveOpenTunnel(ws, target, options);
  // Resolve once the sidecar acknowledged our HTTP/2 SETTINGS: it registers the tunnel for routing
  // when they arrive, so from here on a matching request really comes here (before, "Serving" could
  // be printed a moment before the sidecar routed anything to the tunnel).
  await acknowledged;
  return tunnel;
}

function serveOpenTunnel(ws: WebSocket, target: URL, options: ConnectTunnelOptions): { tunnel: Tunnel; acknowledged: Promise<void> } {
  const log = options.logger;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
  const targetHost = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const targetPort = Number(target.port || 80);
  const pool = buildLocalConnectionPool(targetHost, targetPort);
  const localName = `local server ${target.host}`;
  let localH2: ClientHttp2Session | undefined;
  let active = 0;
  let nextId = 1;

  const localH2Session = (): ClientHttp2Session => {
    if (localH2 && !localH2.closed && !localH2.destroyed) return localH2;
    const session = http2.connect(`http://${target.host}`);
    session.on('error', (err) => log?.debug({ err: err.message }, 'Lost h2c connection to local server'));
    session.on('close', () => { if (localH2 === session) localH2 = undefined; });
    localH2 = session;
    return session;
  };

  let peerWentAway = false;
  // A sidecar that retires the tunnel (revoked intercept) sends GOAWAY and closes the WebSocket itself
  // once its streams ended, with the code that says why (4403): leave the close to it then.
  const duplex = webSocketDuplex(ws, { closeOnEnd: () => (peerWentAway ? undefined : { code: CLOSE.normal, reason: 'developer closed the tunnel' }) });
  ws.on('error', (err) => log?.debug({ err: err.message }, 'Tunnel WebSocket failed'));
  let session: ServerHttp2Session | undefined;
  let onAcknowledged: () => void = () => undefined;
  const acknowledged = new Promise<void>((resolve) => { onAcknowledged = resolve; });
  ws.once('close', () => onAcknowledged());
  const onSession = (s: ServerHttp2Session): void => {
    session = s;
    s.once('localSettings', () => onAcknowledged());
    s.on('goaway', () => { peerWentAway = true; });
    s.on('close', () => {
      if (ws.readyState !== ws.OPEN) return;
      if (!peerWentAway) { ws.close(CLOSE.protocolError, 'HTTP/2 session ended'); return; }
      setTimeout(() => { if (ws.readyState === ws.OPEN) ws.close(CLOSE.normal, 'HTTP/2 session ended'); }, 2000).unref();
    });
  };
  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    const id = nextId++;
    const started = performance.now();
    const upgradeValue = headers[UPGRADE_HEADER];
    const interceptHeader = headers[INTERCEPT_HEADER];
    const bytes = headers[PROTO_HEADER] === 'http1-bytes';
    const base = {
      id,
      method: String((bytes ? headers[METHOD_HEADER] : headers[':method']) ?? 'GET'),
      path: String(headers[':path'] ?? '/'),
      intercept: typeof interceptHeader === 'string' ? interceptHeader : undefined,
      mirror: headers[MIRROR_HEADER] === '1',
      upgrade: typeof upgradeValue === 'string',
      protocol: headers[PROTO_HEADER] === 'h2' ? ('h2' as const) : ('http1' as const),
    };
    active++;
    options.onRequestStart?.(base);
    let reported = false;
    const done = (status: number, error?: string): void => {
      if (reported) return;
      reported = true;
      active--;
      const event: TunnelRequestEvent = { ...base, status, durationMs: performance.now() - started };
      if (error !== undefined) event.error = error;
      options.onRequest?.(event);
    };
    stream.on('error', () => { /* reported through close */ });
    if (bytes) {
      forwardHttp1Bytes(stream, base.method, pool, localName, done);
    } else if (typeof upgradeValue === 'string') {
      forwardUpgrade(stream, headers, upgradeValue, { host: targetHost, port: targetPort }, done);
    } else if (base.protocol === 'h2') {
      const clean = endToEndHeaders(headers, { dropTunnelHeaders: true, keepTeTrailers: true }) as IncomingHttpHeaders;
      clean[':authority'] = headers[':authority'] ?? target.host;
      forwardH2Stream(stream, clean, localH2Session(), { upstreamName: localName, onDone: (r) => done(r.status, r.error) });
    } else {
      forwardToHttp1(stream, headers, { host: targetHost, port: targetPort, agent }, done);
    }
  };
  serveH2OverWebSocket(duplex, { onSession, onStream });
  const stopHeartbeat = startHeartbeat(ws, options.pingIntervalMs ?? TUNNEL_PING_INTERVAL_MS, () => log?.warn('Sidecar stopped answering pings; dropped tunnel'));

  const closed = new Promise<TunnelCloseInfo>((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => {
      stopHeartbeat();
      session?.destroy();
      localH2?.close();
      agent.destroy();
      pool.destroy();
      resolve({ code, reason: reason.toString('utf8') });
    });
  });

  let drained: Promise<void> | undefined;
  /**
   * Resolves once the sidecar stopped sending new requests and those in flight ended (the HTTP/2
   * session then closes and ends the WebSocket), or `drainMs` passed.
   */
  const drain = (drainMs: number): Promise<void> => drained ??= new Promise<void>((resolve) => {
    const s = session;
    if (drainMs <= 0 || s === undefined || s.closed || s.destroyed || ws.readyState !== ws.OPEN) { resolve(); return; }
    const finish = (): void => { clearTimeout(timer); ws.off('close', finish); resolve(); };
    const timer = setTimeout(() => {
      log?.warn({ inFlight: active }, 'Closed the tunnel with requests still in flight after the drain timeout');
      finish();
    }, drainMs);
    timer.unref();
    ws.once('close', finish);
    try {
      // The ACK comes after the sidecar processed the setting: from then on it opens no streams
      // here. A stream it had submitted just before may still be on its way, even behind the ACK
      // (nghttp2 sends ACKs ahead of queued HEADERS); one PING round trip later it has arrived (the
      // sidecar wrote its queue out when it sent the ACK). Then a graceful HTTP/2 close (GOAWAY):
      // Node ends the session once the streams in flight are done and their last bytes written,
      // and the WebSocket closes after them (1000).
      s.settings({ customSettings: { [TUNNEL_DRAIN_SETTING]: 1 } }, (err) => {
        if (err) { finish(); return; }
        const pinged = s.ping((pingErr) => {
          if (pingErr) { finish(); return; }
          try { s.close(); } catch { finish(); }
        });
        if (!pinged) finish();
      });
    } catch {
      finish(); // a Node without custom SETTINGS (< 20.12): close as before
    }
  });

  const tunnel: Tunnel = {
    closed,
    get activeStreams() { return active; },
    protocol: ws.protocol,
    close: async (closeOptions = {}) => {
      await drain(closeOptions.drainMs ?? TUNNEL_DRAIN_MS);
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(CLOSE.normal, 'developer closed the tunnel');
      const timer = setTimeout(() => ws.terminate(), 2000);
      timer.unref();
      const info = await closed;
      clearTimeout(timer);
      return info;
    },
    terminate: () => {
      ws.terminate();
      return closed;
    },
  };
  return { tunnel, acknowledged };
}

interface LocalTarget {
  host: string;
  port: number;
  agent?: http.Agent;
}

function forwardToHttp1(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, target: LocalTarget, done: (status: number, error?: string) => void): void {
  const out = h2ToHttp1Headers(headers, { dropTunnelHeaders: true });
  // HTTP/2 frames bodies itself; in HTTP/1.1 a body without Content-Length must be chunked. Node's
  // client would write a GET/DELETE/OPTIONS body raw, unframed, and the local server would parse
  // it as the next request on the keep-alive connection.
  if (!stream.endAfterHeaders && out['content-length'] === undefined) out['transfer-encoding'] = 'chunked';
  const req = http.request({
    host: target.host, port: target.port, agent: target.agent, method: String(headers[':method']), path: String(headers[':path']),
    headers: out, setHost: false,
  });
  let status = 0;
  let complete = false;
  stream.pipe(req);
  req.on('response', (res) => {
    status = res.statusCode ?? 502;
    if (stream.destroyed || stream.closed) { res.destroy(); return; }
    try {
      stream.respond(http1ResponseToH2(status, res.headers), { waitForTrailers: true });
    } catch (err) {
      res.destroy();
      done(502, err instanceof Error ? err.message : String(err));
      return;
    }
    stream.on('wantTrailers', () => {
      try { stream.sendTrailers(cleanTrailers(res.trailers)); } catch { stream.close(); }
    });
    res.pipe(stream);
    res.on('aborted', () => stream.close(NGHTTP2_INTERNAL_ERROR));
    res.on('error', () => stream.close(NGHTTP2_INTERNAL_ERROR));
    res.on('end', () => { complete = true; done(status); });
  });
  req.on('error', (err: NodeJS.ErrnoException) => {
    const reason = `local server unreachable: ${err.code ?? err.message}`;
    if (!stream.headersSent) respondH2Error(stream, 502, reason);
    else stream.close(NGHTTP2_INTERNAL_ERROR);
    done(status || 502, reason);
  });
  stream.on('close', () => {
    if (!req.destroyed && !complete) {
      req.destroy();
      done(status || 499, 'cancelled by the sidecar');
    }
  });
}

function forwardUpgrade(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, upgrade: string, target: LocalTarget, done: (status: number, error?: string) => void): void {
  const out = h2ToHttp1Headers(headers, { dropTunnelHeaders: true });
  out.connection = 'Upgrade';
  out.upgrade = upgrade;
  const req = http.request({ host: target.host, port: target.port, method: String(headers[':method'] ?? 'GET'), path: String(headers[':path']), headers: out, setHost: false });
  req.end();
  req.on('upgrade', (res, socket: Socket, head: Buffer) => {
    if (stream.destroyed || stream.closed) { socket.destroy(); return; }
    const h = endToEndHeaders(res.headers, { dropPseudo: true });
    stream.respond({ ...h, ':status': 200, [STATUS_HEADER]: '101', [UPGRADE_HEADER]: String(res.headers.upgrade ?? upgrade) });
    if (head.length > 0) stream.write(head);
    socket.pipe(stream);
    stream.pipe(socket);
    socket.on('error', () => stream.close(NGHTTP2_CANCEL));
    socket.on('close', () => { if (!stream.closed) stream.close(); done(101); });
    stream.on('close', () => { socket.destroy(); done(101); });
  });
  req.on('response', (res) => {
    // The local server did not switch protocols: relay its answer.
    const status = res.statusCode ?? 502;
    stream.respond(http1ResponseToH2(status, res.headers));
    res.pipe(stream);
    res.on('end', () => done(status));
  });
  req.on('error', (err: NodeJS.ErrnoException) => {
    const reason = `local server unreachable: ${err.code ?? err.message}`;
    respondH2Error(stream, 502, reason);
    done(502, reason);
  });
  stream.on('close', () => { if (!req.destroyed && req.socket?.destroyed !== false) req.destroy(); });
}
