// The inbound proxy of one taken-over port. A plain TCP listener looks at the first bytes of each
// connection: the HTTP/2 connection preface goes to an h2c server (gRPC), anything else to an
// HTTP/1.1 server. Every request (also each one on a reused keep-alive connection, and every
// HTTP/2 stream) is routed on its own: the app on localhost, the developer's tunnel, a mirror copy,
// or a 503 for Reject. Bodies stream in both directions; nothing is buffered beyond socket and
// HTTP/2 flow-control windows.

import http, { type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import type { Logger } from '../core/logging.js';
import { DEFAULT_SIDECAR_LIMITS, type SidecarLimits, type TakenOverPort } from '../core/sidecar-config.js';
import { forwardH2Stream, h2RequestHeaders, respondH2Error, type ForwardResult } from '../core/tunnel/h2-forward.js';
import { addForwardedHeaders, connectionNamesFraming, endToEndRawHeaders, stripMappedV4 } from '../core/tunnel/headers.js';
import { INTERCEPT_HEADER, MIRROR_HEADER, PROTO_HEADER } from '../core/tunnel/protocol.js';
import type { AppUpstream } from './app-upstream.js';
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { RequestResult, SidecarMetrics } from './metrics.js';
import { startMirror, type MirrorCopy } from './mirror.js';
import { CLIENT_REASON, type Router } from './router.js';
import type { InterceptStats } from './stats.js';
import { PrefixedSocket } from '../core/prefixed-socket.js';
import { failHttp1, requestHasBody, writeRawResponse, type Done } from './http1-responses.js';
import { proxyHttp1ToDeveloper, tunnelRequestHeaders, upgradeToDeveloper } from './http1-developer.js';

const { NGHTTP2_NO_ERROR } = http2.constants;
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const SAFE_RETRY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE']);

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

export interface ProxyListener {
  server: net.Server;
  /** Stops accepting, ends idle keep-alive connections and HTTP/2 sessions; after `graceMs` drops what is left. */
  close(graceMs?: number): Promise<void>;
  /** Drops the cached metric children of an intercept that is gone (see intercept-series.ts). */
  forget(intercept: string): void;
}

/**
 * The metric series one listener updates per request. prom-client's `labels()` validates and
 * hashes its arguments on every call, so each child is looked up once per intercept and result.
 */
interface ListenerMetrics {
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

export function buildProxyListener(deps: ProxyDeps): ProxyListener {
  const { router, app, logger, stats, metrics } = deps;
  const appPort = deps.port.appPort;
  const series = listenerMetrics(deps);
  const limits: ProxyLimits = { ...DEFAULT_PROXY_LIMITS, ...deps.limits };
  const logFailure = (intercept: string, detail: string | undefined): void => {
    if (detail !== undefined) logger.warn({ port: deps.port.name ?? appPort, intercept: intercept || undefined }, `Answered 502: ${detail}`);
  };
  const record = (result: RequestResult, intercept: string, startedAt: number, detail?: string): void => {
    logFailure(intercept, detail);
    series.record(result, intercept, startedAt);
  };

  // ---------- HTTP/1.1 ----------
  // requestTimeout bounds how long a request takes to *arrive* (slow bodies); responses (SSE, long
  // polls, downloads) and upgraded connections are not bounded by it.
  const h1 = http.createServer({
    maxHeaderSize: deps.maxHeaderSize ?? 16 * 1024,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.requestTimeoutMs > 0 ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) : limits.headersTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs || Infinity) / 4))),
    keepAliveTimeout: 65_000,
  });
  // This server never listens (connections are handed to it), and Node starts the bookkeeping that
  // enforces headersTimeout/requestTimeout (and closeIdleConnections) on 'listening' only.
  h1.emit('listening');

  /** A request whose `Connection` header names a framing header: 400 and close, nothing forwarded (see docs/sidecar.md). */
  const refusedFraming = (req: IncomingMessage): string | undefined => {
    const framing = connectionNamesFraming(req.headers.connection);
    if (framing === undefined) return undefined;
    metrics.clientErrors.inc({ kind: 'connection_names_framing' });
    logger.debug({ port: deps.port.name ?? appPort, header: framing }, 'Refused a request whose Connection header names a framing header');
    return `Connection must not name ${framing}`;
  };

  h1.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const startedAt = performance.now();
    const refused = refusedFraming(req);
    if (refused !== undefined) { failHttp1(res, 400, refused, { close: true }); return; }
    const decision = router.decide(appPort, req.url ?? '/', req.headers);
    switch (decision.kind) {
      case 'app':
        return proxyHttp1ToApp(req, res, app, undefined, (r, why) => record(r ? 'app' : 'failed', '', startedAt, why));
      case 'fallback':
        stats.fallback(decision.route.intercept);
        return proxyHttp1ToApp(req, res, app, undefined, (r, why) => record(r ? 'fallback' : 'failed', decision.route.intercept, startedAt, why));
      case 'reject':
        stats.fallback(decision.route.intercept);
        logger.debug({ intercept: decision.route.intercept }, `Rejected a request: ${decision.detail}`);
        failHttp1(res, 503, decision.reason);
        record('rejected', decision.route.intercept, startedAt);
        return;
      case 'mirror': {
        stats.routed(decision.route.intercept);
        const mirror = startMirror(decision.tunnel.session, tunnelRequestHeaders(req, decision, true), requestHasBody(req), () => undefined);
        return proxyHttp1ToApp(req, res, app, mirror, (r, why) => record(r ? 'mirrored' : 'failed', decision.route.intercept, startedAt, why));
      }
      case 'developer':
        stats.routed(decision.route.intercept);
        return proxyHttp1ToDeveloper(req, res, decision, series, (ok, why) => record(ok ? 'developer' : 'failed', decision.route.intercept, startedAt, why));
    }
  });

  h1.on('upgrade', (req: IncomingMessage, socket: net.Socket, head: Buffer) => {
    const startedAt = performance.now();
    socket.on('error', () => { /* peer went away; both sides are torn down on close */ });
    const refused = refusedFraming(req);
    if (refused !== undefined) { writeRawResponse(socket, 400, refused); return; }
    const decision = router.decide(appPort, req.url ?? '/', req.headers);
    if (decision.kind === 'developer') {
      stats.routed(decision.route.intercept);
      upgradeToDeveloper(req, socket, head, decision, series, (ok, why) => record(ok ? 'developer' : 'failed', decision.route.intercept, startedAt, why));
      return;
    }
    if (decision.kind === 'reject') {
      stats.fallback(decision.route.intercept);
      logger.debug({ intercept: decision.route.intercept }, `Rejected an upgrade: ${decision.detail}`);
      writeRawResponse(socket, 503, decision.reason);
      record('rejected', decision.route.intercept, startedAt);
      return;
    }
    if (decision.kind === 'fallback') stats.fallback(decision.route.intercept);
    // Mirror does not copy upgraded connections: the app gets them.
    const result: RequestResult = decision.kind === 'app' || decision.kind === 'mirror' ? 'app' : 'fallback';
    const intercept = decision.kind === 'app' ? '' : decision.route.intercept;
    pipeUpgradeToApp(req, socket, head, app, (ok, why) => record(ok ? result : 'failed', intercept, startedAt, why));
  });

  h1.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    const code = err.code ?? 'unknown';
    // A parse error in a body (invalid chunked framing, a request timeout) comes after the request
    // was dispatched: while its response has not started, the client still gets a 400 and the
    // connection closes, which also cancels whatever was forwarded (see docs/sidecar.md).
    const pending = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (code === 'ECONNRESET' || !socket.writable || (pending && pending.headersSent)) {
      socket.destroy();
      return;
    }
    if (code === 'ERR_HTTP_REQUEST_TIMEOUT') metrics.limitRefusals.inc({ limit: 'request_timeout' });
    else metrics.clientErrors.inc({ kind: code });
    logger.debug({ port: deps.port.name ?? appPort, code }, 'Answered a malformed request');
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    writeRawResponse(socket, status, status === 431 ? 'request header fields too large' : 'malformed HTTP request');
  });

  // ---------- HTTP/2 cleartext (gRPC) ----------
  const h2 = http2.createServer({ maxSessionMemory: 64, settings: { enablePush: false } });
  const h2Remote = new WeakMap<ServerHttp2Session, string>();
  const appName = `app on port ${appPort}`;
  let pendingRemote = '';
  h2.on('session', (session: ServerHttp2Session) => {
    h2Remote.set(session, pendingRemote);
    session.on('error', (err: NodeJS.ErrnoException) => metrics.clientErrors.inc({ kind: err.code ?? 'h2_session' }));
  });
  h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const startedAt = performance.now();
    stream.on('error', () => { /* handled by the forwarder */ });
    const remote = h2Remote.get(stream.session as ServerHttp2Session) ?? '';
    const decision = router.decide(appPort, headers[':path'] ?? '/', headers);
    const forwarded: OutgoingHttpHeaders = { 'x-forwarded-for': headers['x-forwarded-for'], 'x-forwarded-proto': headers['x-forwarded-proto'] };
    addForwardedHeaders(forwarded, remote, 'http');
    const done = (result: RequestResult, intercept: string) => (r: ForwardResult): void => record(r.status === 502 ? 'failed' : result, intercept, startedAt, r.status === 502 ? r.error : undefined);
    switch (decision.kind) {
      case 'app':
        forwardH2Stream(stream, headers, app.h2(), { extraHeaders: forwarded, upstreamName: appName, clientReason: CLIENT_REASON.upstream, onDone: done('app', '') });
        return;
      case 'fallback':
        stats.fallback(decision.route.intercept);
        forwardH2Stream(stream, headers, app.h2(), { extraHeaders: forwarded, upstreamName: appName, clientReason: CLIENT_REASON.upstream, onDone: done('fallback', decision.route.intercept) });
        return;
      case 'reject':
        stats.fallback(decision.route.intercept);
        respondH2Error(stream, 503, decision.reason, headers);
        record('rejected', decision.route.intercept, startedAt);
        return;
      case 'mirror': {
        stats.routed(decision.route.intercept);
        const copyHeaders = h2RequestHeaders(headers, { ...forwarded, [PROTO_HEADER]: 'h2', [MIRROR_HEADER]: '1', [INTERCEPT_HEADER]: decision.route.intercept });
        const mirror = startMirror(decision.tunnel.session, copyHeaders, !stream.endAfterHeaders, () => undefined);
        stream.on('data', (c: Buffer) => mirror.write(c));
        stream.on('end', () => mirror.end());
        stream.on('close', () => { if (stream.rstCode !== NGHTTP2_NO_ERROR) mirror.abort(); });
        forwardH2Stream(stream, headers, app.h2(), { extraHeaders: forwarded, upstreamName: appName, clientReason: CLIENT_REASON.upstream, onDone: done('mirrored', decision.route.intercept) });
        return;
      }
      case 'developer': {
        stats.routed(decision.route.intercept);
        const gauge = series.activeStreams(decision.route.intercept);
        gauge.inc();
        forwardH2Stream(stream, headers, decision.tunnel.session, {
          extraHeaders: { ...forwarded, [PROTO_HEADER]: 'h2', [INTERCEPT_HEADER]: decision.route.intercept },
          upstreamName: `developer for ${decision.route.intercept}`,
          clientReason: CLIENT_REASON.upstream,
          onDone: (r) => { gauge.dec(); done('developer', decision.route.intercept)(r); },
        });
        return;
      }
    }
  });

  // ---------- the port itself ----------
  const sessions = new Set<ServerHttp2Session>();
  h2.on('session', (s: ServerHttp2Session) => { sessions.add(s); s.on('close', () => sessions.delete(s)); });

  h2.on('session', (s: ServerHttp2Session) => closeWhenIdle(s, limits.idleTimeoutMs, () => metrics.limitRefusals.inc({ limit: 'h2_idle' })));

  // Connection limit. A connection is busy while a request it carried is being answered, for its
  // whole life once upgraded, and always when it speaks h2c (idle sessions end by idleTimeoutMs).
  // At the limit the oldest connection that is not busy (silent, idle keep-alive, still sending its
  // request head) is closed to admit the new one; with none, the new one is refused.
  const sockets = new Set<net.Socket>();
  const busy = new Map<net.Socket, number>();
  const markBusy = (s: net.Socket, n: number): void => { busy.set(s, (busy.get(s) ?? 0) + n); };
  h1.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const s = req.socket;
    markBusy(s, 1);
    res.once('close', () => markBusy(s, -1));
  });
  h1.on('upgrade', (req: IncomingMessage) => markBusy(req.socket, 1));
  const admit = (): boolean => {
    if (sockets.size < limits.maxConnections) return true;
    for (const s of sockets) {
      if ((busy.get(s) ?? 0) > 0) continue;
      sockets.delete(s);
      s.destroy();
      metrics.limitRefusals.inc({ limit: 'idle_evicted' });
      return true;
    }
    return false;
  };
  const server = net.createServer({ noDelay: true }, (socket) => {
    if (!admit()) {
      metrics.limitRefusals.inc({ limit: 'connections' });
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => { sockets.delete(socket); busy.delete(socket); });
    socket.setTimeout(limits.headersTimeoutMs, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    let seen: Buffer | undefined;
    const onData = (chunk: Buffer): void => {
      seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const isH2 = seen.compare(H2_PREFACE, 0, n, 0, n) === 0;
      if (isH2 && seen.length < H2_PREFACE.length) return; // need the whole preface to decide
      socket.off('data', onData);
      socket.pause();
      socket.setTimeout(0);
      if (isH2) {
        markBusy(socket, 1);
        pendingRemote = socket.remoteAddress ?? '';
        h2.emit('connection', new PrefixedSocket(socket, seen));
      } else {
        socket.unshift(seen);
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  });

  return {
    server,
    forget: (intercept) => series.forget(intercept),
    close: (graceMs = 5_000) => new Promise<void>((resolve) => {
      server.close(() => resolve());
      h1.close(() => undefined); // ends idle keep-alive connections and the timeout bookkeeping
      for (const s of sessions) s.close();
      setTimeout(() => {
        for (const s of sessions) s.destroy();
        for (const s of sockets) s.destroy();
      }, graceMs).unref();
    }),
  };
}

/** Closes an HTTP/2 session (GOAWAY) once it has had no open stream for `idleMs`. */
function closeWhenIdle(session: ServerHttp2Session, idleMs: number, onClose: () => void): void {
  if (idleMs <= 0) return; // 0: no idle timeout
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    timer = setTimeout(() => {
      if (open > 0 || session.closed || session.destroyed) return;
      onClose();
      session.close();
    }, idleMs);
    timer.unref();
  };
  arm();
  session.on('stream', (stream: ServerHttp2Stream) => {
    open++;
    clearTimeout(timer);
    stream.once('close', () => { if (--open === 0 && !session.closed) arm(); });
  });
  session.once('close', () => clearTimeout(timer));
}

// ---------- HTTP/1 helpers ----------

function forwardedRawHeaders(req: IncomingMessage): string[] {
  const raw = endToEndRawHeaders(req.rawHeaders);
  let xff: string | undefined;
  let hasProto = false;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === 'x-forwarded-for') { xff = xff === undefined ? raw[i + 1] : `${xff}, ${raw[i + 1]}`; raw.splice(i, 2); i -= 2; }
    else if (lower === 'x-forwarded-proto') hasProto = true;
    else if (lower === 'expect') { raw.splice(i, 2); i -= 2; } // the sidecar already answered 100-continue
  }
  const peer = stripMappedV4(req.socket.remoteAddress);
  if (peer) raw.push('X-Forwarded-For', xff === undefined ? peer : `${xff}, ${peer}`);
  else if (xff !== undefined) raw.push('X-Forwarded-For', xff);
  if (!hasProto) raw.push('X-Forwarded-Proto', 'http');
  if (req.headers['transfer-encoding'] !== undefined) raw.push('Transfer-Encoding', 'chunked');
  return raw;
}

function rawTrailerPairs(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/**
 * Sends one HTTP/1 request to the app through the keep-alive pool and streams the answer back,
 * trailers included. A request without a body that failed on a reused pooled connection before any
 * answer (the app closed an idle connection) is retried once on a fresh one.
 */
export function proxyHttp1ToApp(req: IncomingMessage, res: ServerResponse, app: AppUpstream, mirror: MirrorCopy | undefined, onDone: Done): void {
  const headers = forwardedRawHeaders(req);
  const method = req.method ?? 'GET';
  const retryable = !requestHasBody(req) && SAFE_RETRY_METHODS.has(method);
  let finished = false;
  const finish = (ok: boolean, detail?: string): void => { if (!finished) { finished = true; onDone(ok, detail); } };
  let upstreamReq: http.ClientRequest | undefined;

  if (mirror) {
    req.on('data', (c: Buffer) => mirror.write(c));
    req.on('end', () => mirror.end());
  }

  const send = (attempt: number): void => {
    const up = http.request({ host: app.host, port: app.port, localAddress: app.sourceFor(req.socket), agent: app.agent, method, path: req.url, headers, setHost: false });
    upstreamReq = up;
    up.on('response', (upRes) => {
      if (res.destroyed) { upRes.destroy(); return; }
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, endToEndRawHeaders(upRes.rawHeaders));
      // Flush the header block when the app sent headers alone (SSE, long polls); a body that is
      // already here goes out together with it.
      setImmediate(() => { if (!res.headersSent && !res.destroyed) res.flushHeaders(); });
      upRes.pipe(res, { end: false });
      upRes.on('end', () => {
        if (upRes.rawTrailers.length > 0) res.addTrailers(rawTrailerPairs(upRes.rawTrailers));
        res.end();
        finish(true);
      });
      upRes.on('aborted', () => { res.destroy(); finish(false); });
      upRes.on('error', () => { res.destroy(); finish(false); });
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (attempt === 0 && retryable && up.reusedSocket && !res.headersSent && !res.destroyed && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        send(1);
        return;
      }
      mirror?.abort();
      failHttp1(res, 502, CLIENT_REASON.upstream);
      finish(false, `app not reachable on port ${app.port}: ${err.code ?? 'error'}`);
    });
    if (attempt === 0) req.pipe(up);
    else up.end();
  };
  send(0);

  res.on('close', () => {
    if (!res.writableFinished) {
      upstreamReq?.destroy();
      mirror?.abort();
      finish(false);
    }
  });
}

/** WebSocket (or any Upgrade) to the app: replay the request head on a fresh TCP connection and splice bytes. */
function pipeUpgradeToApp(req: IncomingMessage, socket: net.Socket, head: Buffer, app: AppUpstream, onDone: Done): void {
  const raw = req.rawHeaders.slice();
  const peer = stripMappedV4(req.socket.remoteAddress);
  let block = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  let xff: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'x-forwarded-for') { xff = xff === undefined ? raw[i + 1] : `${xff}, ${raw[i + 1]}`; continue; }
    block += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  if (peer || xff) block += `X-Forwarded-For: ${[xff, peer].filter(Boolean).join(', ')}\r\n`;
  if (req.headers['x-forwarded-proto'] === undefined) block += 'X-Forwarded-Proto: http\r\n';
  block += '\r\n';
  const up = net.connect({ host: app.host, port: app.port, localAddress: app.sourceFor(req.socket), noDelay: true });
  let connected = false;
  up.on('connect', () => {
    connected = true;
    up.write(block);
    if (head.length > 0) up.write(head);
    socket.pipe(up);
    up.pipe(socket);
  });
  up.on('error', (err: NodeJS.ErrnoException) => {
    if (!connected) { writeRawResponse(socket, 502, CLIENT_REASON.upstream); onDone(false, `app not reachable on port ${app.port}: ${err.code ?? 'error'}`); }
    else socket.destroy();
  });
  up.on('close', () => { socket.destroy(); if (connected) onDone(true); });
  socket.on('close', () => up.destroy());
}
