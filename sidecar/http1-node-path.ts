// The Node path of HTTP/1 on a taken-over port: Node's http server with the code built on
// IncomingMessage/ServerResponse. The byte path (http1-byte-path.ts) hands it what it does not
// splice itself: one request at a time through a RequestBridge (developer, Mirror, Reject — the
// byte path already decided), and whole connections for upgrades (WebSocket) and HTTP/1.0.
// Loaded on first need (`await import`), so an idle or pass-through-only sidecar never loads it.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { connectionNamesFraming, endToEndRawHeaders, stripMappedV4 } from '../core/tunnel/headers.js';
import type { AppUpstream } from './app-upstream.js';
import { RequestBridge } from './http1-bridge.js';
import { proxyHttp1ToDeveloper, tunnelRequestHeaders, upgradeToDeveloper } from './http1-developer.js';
import { failHttp1, requestHasBody, writeRawResponse, type Done } from './http1-responses.js';
import type { RequestResult } from './metrics.js';
import { startMirror, type MirrorCopy } from './mirror.js';
import type { ProxyContext } from './proxy-context.js';
import { KEEP_ALIVE_TIMEOUT_MS } from './proxy-context.js';
import { CLIENT_REASON, type Decision } from './router.js';

const SAFE_RETRY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE']);

export interface NodePath {
  /** Serves the rest of `socket` (an upgrade, HTTP/1.0); `prefix` are the bytes already read from it. */
  handOver(socket: net.Socket, prefix: Buffer): void;
  /** Serves one request through `bridge` (the byte path feeds it the request's bytes). */
  serve(bridge: RequestBridge): void;
  close(): void;
}

export function buildNodePath(ctx: ProxyContext): NodePath {
  const { router, app, logger, stats, metrics } = ctx.deps;
  const { limits } = ctx;
  const record = ctx.record;
  // requestTimeout bounds how long a request takes to *arrive* (slow bodies); responses (SSE, long
  // polls, downloads) and upgraded connections are not bounded by it.
  const h1 = http.createServer({
    maxHeaderSize: ctx.maxHeaderSize,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.requestTimeoutMs > 0 ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) : limits.headersTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs || Infinity) / 4))),
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  });
  // This server never listens (connections are handed to it), and Node starts the bookkeeping that
  // enforces headersTimeout/requestTimeout (and closeIdleConnections) on 'listening' only.
  h1.emit('listening');

  /** A request whose `Connection` header names a framing header: 400 and close, nothing forwarded (see docs/sidecar.md). */
  const refusedFraming = (req: IncomingMessage): string | undefined => {
    const framing = connectionNamesFraming(req.headers.connection);
    if (framing === undefined) return undefined;
    metrics.clientErrors.inc({ kind: 'connection_names_framing' });
    logger.debug({ port: ctx.portLabel, header: framing }, 'Refused a request whose Connection header names a framing header');
    return `Connection must not name ${framing}`;
  };

  const decide = (req: IncomingMessage): Decision => (req.socket instanceof RequestBridge ? req.socket.decision : router.decide(ctx.appPort, req.url ?? '/', req.headers));

  h1.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const bridge = req.socket instanceof RequestBridge ? req.socket : undefined;
    const startedAt = bridge?.startedAt ?? performance.now();
    if (bridge) res.once('finish', () => bridge.responseDone());
    else {
      const s = req.socket;
      ctx.markBusy(s, 1);
      res.once('close', () => ctx.markBusy(s, -1));
    }
    const refused = refusedFraming(req);
    if (refused !== undefined) { failHttp1(res, 400, refused, { close: true }); return; }
    const decision = decide(req);
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
        return proxyHttp1ToDeveloper(req, res, decision, ctx.series, (ok, why) => record(ok ? 'developer' : 'failed', decision.route.intercept, startedAt, why));
    }
  });

  h1.on('upgrade', (req: IncomingMessage, socket: net.Socket, head: Buffer) => {
    const startedAt = performance.now();
    ctx.markBusy(socket, 1);
    socket.on('error', () => { /* peer went away; both sides are torn down on close */ });
    const refused = refusedFraming(req);
    if (refused !== undefined) { writeRawResponse(socket, 400, refused); return; }
    const decision = decide(req);
    if (decision.kind === 'developer') {
      stats.routed(decision.route.intercept);
      upgradeToDeveloper(req, socket, head, decision, ctx.series, (ok, why) => record(ok ? 'developer' : 'failed', decision.route.intercept, startedAt, why));
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
    logger.debug({ port: ctx.portLabel, code }, 'Answered a malformed request');
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    writeRawResponse(socket, status, status === 431 ? 'request header fields too large' : 'malformed HTTP request');
  });

  return {
    handOver(socket, prefix) {
      if (prefix.length > 0) socket.unshift(prefix);
      h1.emit('connection', socket);
      socket.resume();
    },
    serve(bridge) { h1.emit('connection', bridge); },
    close() { h1.close(() => undefined); }, // ends idle keep-alive connections and the timeout bookkeeping
  };
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
 * Sends one HTTP/1 request to the app through the keep-alive agent and streams the answer back,
 * trailers included (Mirror, and connections handed over whole). A request without a body that
 * failed on a reused pooled connection before any answer (the app closed an idle connection) is
 * retried once on a fresh one.
 */
function proxyHttp1ToApp(req: IncomingMessage, res: ServerResponse, app: AppUpstream, mirror: MirrorCopy | undefined, onDone: Done): void {
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
    const up = http.request({ host: app.host, port: app.port, localAddress: app.sourceFor(req.socket as net.Socket), agent: app.agent, method, path: req.url, headers, setHost: false });
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
