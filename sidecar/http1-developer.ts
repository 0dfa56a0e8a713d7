// HTTP/1 requests and upgrades routed to a developer: each becomes one stream of the developer's
// tunnel (HTTP/2 over the WebSocket), with the tunnel markers the developer end reads. Mirror copies
// use the same request headers with the mirror marker.
//
// On a detour-tunnel.v2 tunnel (peer.mode 'v2', negotiated in the upgrade) a request travels as its
// own bytes (`http1-bytes` streams, docs/tunnel-protocol.md "HTTP/1 as bytes"): the stream carries
// the request head as the sidecar frames it (request line, the client's end-to-end header lines in
// their order, X-Forwarded-For / -Proto lines) and then the body as framed (Content-Length bytes, or
// chunked with its trailers); the answer is the local server's raw HTTP/1.1 bytes, read with
// Http1ResponseFraming. A v1 tunnel (an older CLI) gets an HTTP/2 request as before. Upgrades and
// Mirror copies stay HTTP/2 requests on both.
//
// For the proxy:
// - `proxyHttp1ToDeveloper(req, res, decision, series, onDone)`: from an IncomingMessage /
//   ServerResponse, either tunnel mode.
// - `forwardHttp1BytesToDeveloper({ head, body, method, client, decision, series, onDone })`: the
//   byte-level variant for a proxy that owns the client socket. `head` is the complete request head
//   (ending in CRLFCRLF) exactly as it should reach the developer's local server, X-Forwarded-* lines
//   included and no Expect / x-detour-tunnel-* lines; `body` the request's body bytes as framed
//   (chunked framing included), ending where the request ends (absent: no body). The response's raw
//   bytes are written to `client` (which is never ended on success); onDone reports whether the
//   response allowed keep-alive. It needs a v2 tunnel; on a v1 tunnel use proxyHttp1ToDeveloper.

import http2, { type IncomingHttpHeaders } from 'node:http2';
import { STATUS_CODES, type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import type net from 'node:net';
import type { Gauge } from 'prom-client';
import type { Readable, Writable } from 'node:stream';
import { addForwardedHeaders, cleanTrailers, connectionTokens, endToEndHeaders, endToEndRawHeaders, h2ToHttp1Headers, HOP_BY_HOP, stripMappedV4, TUNNEL_HEADER_PREFIX } from '../core/tunnel/headers.js';
import { Http1ResponseFraming } from '../core/tunnel/http1-response-framing.js';
import { INTERCEPT_HEADER, METHOD_HEADER, MIRROR_HEADER, PROTO_HEADER, STATUS_HEADER, UPGRADE_HEADER } from '../core/tunnel/protocol.js';
import { CLIENT_REASON, type Decision } from './router.js';
import type { TunnelPeer } from './tunnel-registry.js';
import { buildRawResponse } from '../core/raw-http-response.js';
import { failHttp1, rawHeaderBlock, requestHasBody, writeRawResponse, type Done } from './http1-responses.js';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

/** The in-flight tunnel streams gauge of an intercept. */
export interface ActiveStreams {
  activeStreams(intercept: string): Gauge.Internal<'intercept'>;
}

/** Headers of a tunnel stream for an HTTP/1 request (pseudo-headers, end-to-end headers, X-Forwarded-*, tunnel markers). */
export function tunnelRequestHeaders(req: IncomingMessage, decision: { route: { intercept: string } }, mirror: boolean): OutgoingHttpHeaders {
  const h = endToEndHeaders(req.headers, { dropHost: true });
  delete h.expect;
  for (const name of Object.keys(h)) if (name.startsWith(TUNNEL_HEADER_PREFIX)) delete h[name]; // clients cannot forge markers
  h[':method'] = req.method ?? 'GET';
  h[':path'] = req.url ?? '/';
  h[':authority'] = req.headers.host ?? 'localhost';
  h[':scheme'] = 'http';
  addForwardedHeaders(h, req.socket.remoteAddress, 'http');
  h[PROTO_HEADER] = 'http1';
  h[INTERCEPT_HEADER] = decision.route.intercept;
  if (mirror) h[MIRROR_HEADER] = '1';
  return h;
}

/**
 * The head of an HTTP/1 request as it goes to the developer as bytes: request line, the client's
 * end-to-end header lines (original names, values and order; hop-by-hop, Expect and x-detour-tunnel-*
 * left out), `Transfer-Encoding: chunked` when the body was chunked (it is re-chunked), a `Host` line
 * when the client sent none, `X-Forwarded-For: <peer>` (one more line: equivalent to appending) and
 * `X-Forwarded-Proto: http` unless the client sent one.
 */
export function buildTunnelRequestHead(req: IncomingMessage): string {
  let head = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
  const raw = endToEndRawHeaders(req.rawHeaders);
  let host = false;
  let proto = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower === 'expect' || lower.startsWith(TUNNEL_HEADER_PREFIX)) continue;
    if (lower === 'host') host = true;
    else if (lower === 'x-forwarded-proto') proto = true;
    head += `${name}: ${raw[i + 1]!}\r\n`;
  }
  if (!host) head += 'Host: localhost\r\n';
  if (req.headers['transfer-encoding'] !== undefined) head += 'Transfer-Encoding: chunked\r\n';
  const peer = stripMappedV4(req.socket.remoteAddress);
  if (peer) head += `X-Forwarded-For: ${peer}\r\n`;
  if (!proto) head += 'X-Forwarded-Proto: http\r\n';
  return `${head}\r\n`;
}

/** Response header lines from the developer's local server made fit for a ServerResponse (rawHeaders form, connection headers out). */
export function responseHeadersForClient(raw: readonly string[]): string[] {
  let listed: Set<string> | undefined;
  let chunked = false;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === 'connection') for (const t of connectionTokens(raw[i + 1]) ?? []) (listed ??= new Set()).add(t);
    else if (lower === 'transfer-encoding') chunked = true;
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower) || lower.startsWith(TUNNEL_HEADER_PREFIX)) continue;
    if (chunked && lower === 'content-length') continue; // Transfer-Encoding wins (RFC 9112 §6.3)
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** Opens an `http1-bytes` stream on a v2 tunnel (throws when the tunnel is closing). */
function openBytesStream(tunnel: TunnelPeer, intercept: string, method: string, path: string, host: string | undefined): http2.ClientHttp2Stream {
  return tunnel.session.request({
    ':method': 'POST', ':path': path, ':scheme': 'http', ':authority': host ?? 'localhost',
    [PROTO_HEADER]: 'http1-bytes', [METHOD_HEADER]: method, [INTERCEPT_HEADER]: intercept,
  }, { endStream: false });
}

/** Writes `chunk` to the stream, pausing `source` until the stream drains (bounded buffering). */
function writeWithBackpressure(stream: http2.ClientHttp2Stream, chunk: Buffer | string, source: Readable): void {
  if (!stream.write(chunk)) {
    source.pause();
    stream.once('drain', () => source.resume());
  }
}

/** The request body of an IncomingMessage onto a bytes stream, framed as its head says (re-chunked when it came chunked). */
function sendBody(req: IncomingMessage, stream: http2.ClientHttp2Stream): void {
  const chunked = req.headers['transfer-encoding'] !== undefined;
  req.on('data', (c: Buffer) => {
    if (stream.destroyed || c.length === 0) return;
    writeWithBackpressure(stream, chunked ? Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]) : c, req);
  });
  req.on('end', () => {
    if (stream.destroyed) return;
    if (!chunked) { stream.end(); return; }
    let last = '0\r\n';
    for (let i = 0; i < req.rawTrailers.length; i += 2) last += `${req.rawTrailers[i]!}: ${req.rawTrailers[i + 1]!}\r\n`;
    stream.end(`${last}\r\n`);
  });
}

function proxyHttp1BytesToDeveloper(
  req: IncomingMessage, res: ServerResponse, decision: Extract<Decision, { kind: 'developer' }>, finish: (ok: boolean, detail?: string) => void,
): void {
  const intercept = decision.route.intercept;
  let stream: http2.ClientHttp2Stream;
  try {
    stream = openBytesStream(decision.tunnel, intercept, req.method ?? 'GET', req.url ?? '/', req.headers.host);
  } catch {
    failHttp1(res, 502, CLIENT_REASON.upstream);
    finish(false, `developer tunnel for ${intercept} is closing`);
    return;
  }
  stream.on('error', () => { /* handled on close */ });
  if (requestHasBody(req)) {
    stream.write(buildTunnelRequestHead(req));
    sendBody(req, stream);
  } else {
    stream.end(buildTunnelRequestHead(req)); // HEADERS + one DATA frame with END_STREAM
  }
  let failed = false;
  const fail = (detail: string): void => {
    if (failed) return;
    failed = true;
    if (!stream.closed) stream.close(NGHTTP2_CANCEL);
    failHttp1(res, 502, CLIENT_REASON.upstream); // destroys the connection when the answer had started
    finish(false, detail);
  };
  let trailers: string[] = [];
  const framing = new Http1ResponseFraming(req.method === 'HEAD', {
    onHead: (head, interim) => {
      if (interim || res.destroyed) return; // 100/103: the sidecar's own server answered Expect already
      const headers = responseHeadersForClient(head.rawHeaders);
      if (head.reason) res.writeHead(head.status, head.reason, headers);
      else res.writeHead(head.status, headers);
      setImmediate(() => { if (!res.headersSent && !res.destroyed) res.flushHeaders(); });
    },
    onBody: (data) => {
      if (res.destroyed) return;
      if (!res.write(data)) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    },
    onTrailers: (t) => { trailers = t; },
  });
  const end = (): void => {
    if (trailers.length > 0) {
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < trailers.length; i += 2) pairs.push([trailers[i]!, trailers[i + 1]!]);
      res.addTrailers(pairs);
    }
    res.end();
    finish(true);
  };
  stream.on('data', (c: Buffer) => {
    if (failed || framing.complete) return;
    try {
      framing.push(c);
    } catch (err) {
      fail(`developer for ${intercept} answered malformed HTTP/1.1: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (framing.complete) end();
  });
  stream.on('end', () => {
    if (failed || framing.complete) return;
    if (framing.end()) end(); // close-delimited: the developer ended the stream with the body
    else fail(`developer for ${intercept} ended the answer early`);
  });
  stream.on('close', () => {
    if (failed || framing.complete) return;
    if (res.destroyed) { failed = true; finish(false); return; }
    fail(`developer for ${intercept} disconnected`);
  });
  res.on('close', () => {
    if (!res.writableFinished && !stream.closed) stream.close(NGHTTP2_CANCEL);
  });
}

export interface Http1BytesRequest {
  /** The complete request head (ending in CRLFCRLF) as the developer's local server should get it. */
  head: Buffer | string;
  /** The body bytes as framed, ending where the request ends; absent: no body. */
  body?: Readable;
  method: string;
  /** The request target (shown by the CLI; the head carries the real one). */
  target: string;
  /** The request's Host, for the stream's `:authority`. */
  host?: string;
  /** Where the response's raw bytes go (the client's socket); not ended after a complete answer. */
  client: Writable;
  decision: Extract<Decision, { kind: 'developer' }>;
  series: ActiveStreams;
  /** ok, the reason when not, and whether the answer allows the connection to carry another request. */
  onDone: (ok: boolean, detail: string | undefined, info: { keepAlive: boolean; status: number }) => void;
}

/**
 * The byte-level variant (see the header): the request's own bytes to the developer, the local
 * server's bytes back to `client`. Before the answer started a failure writes Detour's 502 (and the
 * caller should close the connection: keepAlive false); after it started the caller must close it.
 */
export function forwardHttp1BytesToDeveloper(r: Http1BytesRequest): void {
  const intercept = r.decision.route.intercept;
  const gauge = r.series.activeStreams(intercept);
  gauge.inc();
  let finished = false;
  let sent = 0;
  const framing = new Http1ResponseFraming(r.method === 'HEAD');
  const onClientClose = (): void => { if (!stream.closed) stream.close(NGHTTP2_CANCEL); };
  const finish = (ok: boolean, detail?: string): void => {
    if (finished) return;
    finished = true;
    gauge.dec();
    r.client.off('close', onClientClose);
    r.onDone(ok, detail, { keepAlive: ok && framing.keepAlive, status: framing.status || 502 });
  };
  const fail = (detail: string): void => {
    if (!finished && sent === 0 && r.client.writable) r.client.write(buildRawResponse(502, CLIENT_REASON.upstream, { reasonHeader: 'X-Detour-Reason' }));
    finish(false, detail);
  };
  let stream: http2.ClientHttp2Stream;
  try {
    stream = openBytesStream(r.decision.tunnel, intercept, r.method, r.target, r.host);
  } catch {
    fail(`developer tunnel for ${intercept} is closing`);
    return;
  }
  stream.on('error', () => { /* handled on close */ });
  if (r.body === undefined) {
    stream.end(r.head);
  } else {
    const body = r.body;
    stream.write(r.head);
    body.on('data', (c: Buffer) => { if (!stream.destroyed) writeWithBackpressure(stream, c, body); });
    body.on('end', () => { if (!stream.destroyed) stream.end(); });
  }
  stream.on('data', (c: Buffer) => {
    if (finished) return;
    let n: number;
    try {
      n = framing.push(c);
    } catch (err) {
      stream.close(NGHTTP2_CANCEL);
      fail(`developer for ${intercept} answered malformed HTTP/1.1: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (n > 0) {
      sent += n;
      if (!r.client.write(n === c.length ? c : c.subarray(0, n))) {
        stream.pause();
        r.client.once('drain', () => stream.resume());
      }
    }
    if (framing.complete) finish(true);
  });
  stream.on('end', () => {
    if (finished) return;
    if (framing.end()) finish(true);
    else fail(`developer for ${intercept} ended the answer early`);
  });
  stream.on('close', () => { if (!finished) fail(`developer for ${intercept} disconnected`); });
  r.client.on('close', onClientClose);
}

export function proxyHttp1ToDeveloper(
  req: IncomingMessage, res: ServerResponse, decision: Extract<Decision, { kind: 'developer' }>, series: ActiveStreams, onDone: Done,
): void {
  const tunnel: TunnelPeer = decision.tunnel;
  if (tunnel.mode === 'v2') {
    const gauge = series.activeStreams(decision.route.intercept);
    gauge.inc();
    let done = false;
    proxyHttp1BytesToDeveloper(req, res, decision, (ok, detail) => { if (!done) { done = true; gauge.dec(); onDone(ok, detail); } });
    return;
  }
  let finished = false;
  const gauge = series.activeStreams(decision.route.intercept);
  const finish = (ok: boolean, detail?: string): void => { if (!finished) { finished = true; gauge.dec(); onDone(ok, detail); } };
  gauge.inc();
  let stream: http2.ClientHttp2Stream;
  try {
    stream = tunnel.session.request(tunnelRequestHeaders(req, decision, false), { endStream: !requestHasBody(req) });
  } catch {
    failHttp1(res, 502, CLIENT_REASON.upstream);
    finish(false, `developer tunnel for ${decision.route.intercept} is closing`);
    return;
  }
  let trailers: IncomingHttpHeaders | undefined;
  let responded = false;
  stream.on('error', () => { /* handled on close */ });
  req.pipe(stream);
  stream.on('response', (h) => {
    responded = true;
    if (res.destroyed) { stream.close(NGHTTP2_CANCEL); return; }
    res.writeHead(Number(h[':status']) || 502, h2ToHttp1Headers(h, { dropTunnelHeaders: true }));
    setImmediate(() => { if (!res.headersSent && !res.destroyed) res.flushHeaders(); });
    stream.pipe(res, { end: false });
  });
  stream.on('trailers', (t) => { trailers = t; });
  stream.on('end', () => {
    if (!responded || res.destroyed) return;
    if (trailers !== undefined) {
      const clean = cleanTrailers(trailers);
      if (Object.keys(clean).length > 0) res.addTrailers(clean as Record<string, string>);
    }
    res.end();
    finish(true);
  });
  stream.on('close', () => {
    if (finished) return;
    if (stream.rstCode === NGHTTP2_NO_ERROR && responded && res.writableEnded) { finish(true); return; }
    if (res.destroyed) { finish(false); return; }
    // The developer went away (tunnel closed) or reset the stream: fail this request now.
    failHttp1(res, 502, CLIENT_REASON.upstream);
    finish(false, `developer for ${decision.route.intercept} disconnected`);
  });
  res.on('close', () => {
    if (!res.writableFinished && !stream.closed) stream.close(NGHTTP2_CANCEL);
  });
}

/** WebSocket (or any Upgrade) to the developer: one tunnel stream that becomes a byte pipe after the 101. */
export function upgradeToDeveloper(
  req: IncomingMessage, socket: net.Socket, head: Buffer, decision: Extract<Decision, { kind: 'developer' }>, series: ActiveStreams, onDone: Done,
): void {
  const headers = tunnelRequestHeaders(req, decision, false);
  headers[UPGRADE_HEADER] = String(req.headers.upgrade ?? 'websocket');
  const gauge = series.activeStreams(decision.route.intercept);
  let finished = false;
  const finish = (ok: boolean, detail?: string): void => { if (!finished) { finished = true; gauge.dec(); onDone(ok, detail); } };
  gauge.inc();
  let stream: http2.ClientHttp2Stream;
  try {
    stream = decision.tunnel.session.request(headers, { endStream: false }); // bytes follow the 101
  } catch {
    writeRawResponse(socket, 502, CLIENT_REASON.upstream);
    finish(false, `developer tunnel for ${decision.route.intercept} is closing`);
    return;
  }
  let responded = false;
  stream.on('error', () => { /* handled on close */ });
  stream.on('response', (h) => {
    responded = true;
    const rest = h2ToHttp1Headers(h, { dropTunnelHeaders: true });
    if (h[STATUS_HEADER] === '101') {
      socket.write(rawHeaderBlock('HTTP/1.1 101 Switching Protocols', { connection: 'Upgrade', upgrade: String(h[UPGRADE_HEADER] ?? req.headers.upgrade), ...rest }));
      if (head.length > 0) stream.write(head);
      socket.pipe(stream);
      stream.pipe(socket);
      return;
    }
    const status = Number(h[':status']) || 502;
    delete rest['content-length'];
    socket.write(rawHeaderBlock(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, { ...rest, connection: 'close' }));
    stream.pipe(socket);
  });
  stream.on('close', () => {
    if (!responded && !socket.destroyed) {
      writeRawResponse(socket, 502, CLIENT_REASON.upstream);
      finish(false, `developer for ${decision.route.intercept} disconnected`);
      return;
    }
    socket.destroy();
    finish(responded && stream.rstCode === NGHTTP2_NO_ERROR);
  });
  socket.on('close', () => { if (!stream.closed) stream.close(NGHTTP2_CANCEL); });
}
