// Forwarding one HTTP/2 stream to another HTTP/2 connection, used by the sidecar (gRPC/h2c clients
// → app or → tunnel) and by the developer end (tunnel → local h2c server). Streams both ways with
// HTTP/2 flow control (pipe() pauses the reading side, which withholds WINDOW_UPDATEs), keeps
// trailers, and propagates cancellation both ways.
//
// Trailers-only responses: a gRPC server answers an error (and any call that fails before its first
// message) with ONE HEADERS frame carrying END_STREAM and `grpc-status` (gRPC over HTTP/2 spec,
// "Trailers-Only"). Such a response is relayed as one HEADERS frame with END_STREAM too — turning it
// into headers + empty trailers made every gRPC client read "no status" (INTERNAL).
//
// The forwarder's own failures reach a gRPC client as a gRPC status (UNAVAILABLE with the reason in
// grpc-message): trailers-only before the response started, in the trailers after it started.

import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { buildGrpcStatusHeaders, isGrpcRequest } from './grpc-status.js';
import { cleanTrailers, endToEndHeaders } from './headers.js';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_FLAG_END_STREAM } = http2.constants;

export interface ForwardResult {
  /** Status the client saw (502 when the upstream failed before answering). */
  status: number;
  /** Set when the exchange did not complete normally. */
  error?: string;
}

export interface ForwardH2Options {
  /** Headers added to (or replacing) the forwarded request headers. */
  extraHeaders?: OutgoingHttpHeaders;
  /** Called once when the exchange is over (success, failure, or cancellation). */
  onDone?: (result: ForwardResult) => void;
  /** Counts request bytes sent upstream / response bytes received. */
  onBytes?: (direction: 'up' | 'down', n: number) => void;
  /** Names the upstream in error reasons (`developer for shop/alice`, `app on port 8080`); default `upstream`. */
  upstreamName?: string;
  /**
   * What the client is told when the exchange fails (502 text, `grpc-message`, `X-Detour-Reason`);
   * the detailed reason still goes to `onDone`. The sidecar passes a generic text so end clients
   * never learn intercept names; default: the detailed reason.
   */
  clientReason?: string;
}

/**
 * The headers of an inbound HTTP/2 request as they go upstream: pseudo-headers kept, hop-by-hop and
 * `x-detour-tunnel-*` dropped (a client must not forge tunnel markers; the sidecar adds its own in
 * `extra`), `te: trailers` kept for gRPC.
 */
export function h2RequestHeaders(headers: IncomingHttpHeaders, extra?: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out = endToEndHeaders(headers, { keepTeTrailers: true, dropTunnelHeaders: true });
  delete out[':protocol'];
  if (extra) Object.assign(out, extra);
  return out;
}

/**
 * Answers an HTTP/2 stream that has no upstream: a short plain-text error, or, when `request` (the
 * stream's request headers) is a gRPC call, a trailers-only gRPC status (502/503 → UNAVAILABLE) with
 * the reason in `grpc-message`. Both carry `X-Detour-Reason`.
 */
export function respondH2Error(stream: ServerHttp2Stream, status: number, reason: string, request?: IncomingHttpHeaders): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  try {
    if (request !== undefined && isGrpcRequest(request)) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-detour-reason': reason, ...buildGrpcStatusHeaders(status, reason) }, { endStream: true });
      return;
    }
    stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', 'x-detour-reason': reason });
    stream.end(`${reason}\n`);
  } catch {
    stream.destroy();
  }
}

/**
 * Sends `inbound` (a server stream whose request headers are `headers`) to `session`, streaming the
 * body both ways, copying the response headers and trailers back, and cancelling the other side
 * when either side goes away. Never throws; failures end as 502 (before the response started) or a
 * reset stream (after); for gRPC calls as an UNAVAILABLE status (see respondH2Error), except that a
 * reset by the upstream itself is relayed with its code.
 */
export function forwardH2Stream(inbound: ServerHttp2Stream, headers: IncomingHttpHeaders, session: ClientHttp2Session, options: ForwardH2Options = {}): ClientHttp2Stream | undefined {
  let done = false;
  let status = 0;
  const name = options.upstreamName ?? 'upstream';
  const finish = (result: ForwardResult): void => {
    if (done) return;
    done = true;
    options.onDone?.(result);
  };

  const connectingAtStart = session.connecting;
  let upstream: ClientHttp2Stream;
  try {
    if (session.destroyed || session.closed) throw new Error('upstream connection is closed');
    upstream = session.request(h2RequestHeaders(headers, options.extraHeaders), { endStream: inbound.endAfterHeaders });
  } catch (err) {
    const reason = `${name} unavailable: ${err instanceof Error ? err.message : String(err)}`;
    respondH2Error(inbound, 502, options.clientReason ?? reason, headers);
    finish({ status: 502, error: reason });
    return undefined;
  }

  let trailers: OutgoingHttpHeaders | undefined;
  let trailersOnly = false;
  // Whether the upstream's response really ended (END_STREAM arrived). Node also ends the readable
  // side of every stream of a destroyed session, which must not pass for a complete response: a
  // response counts as complete when its trailers (or a trailers-only HEADERS) arrived, or when it
  // ended while its connection was still up.
  let upstreamComplete = false;
  if (options.onBytes) {
    const onBytes = options.onBytes;
    inbound.on('data', (c: Buffer) => onBytes('up', c.length));
    upstream.on('data', (c: Buffer) => onBytes('down', c.length));
  }
  inbound.pipe(upstream);

  upstream.on('response', (h, flags) => {
    status = Number(h[':status']) || 502;
    if (inbound.destroyed || inbound.closed) return;
    const out = endToEndHeaders(h, { dropTunnelHeaders: true });
    trailersOnly = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    try {
      inbound.respond(out, trailersOnly ? { endStream: true } : { waitForTrailers: true });
    } catch (err) {
      upstream.close(NGHTTP2_CANCEL);
      finish({ status: 502, error: `could not answer: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    if (trailersOnly) upstream.resume(); // nothing follows; let the stream end and close
    else upstream.pipe(inbound, { end: false });
  });
  upstream.on('trailers', (t) => { trailers = cleanTrailers(t); });
  upstream.on('end', () => {
    if (status === 0) return;
    const ended = trailersOnly || trailers !== undefined || (!session.destroyed && (upstream.rstCode ?? NGHTTP2_NO_ERROR) === NGHTTP2_NO_ERROR);
    if (!ended) return; // reset or torn down with its session, not ended: see 'close'
    upstreamComplete = true;
    if (!inbound.writableEnded && !inbound.destroyed) inbound.end(); // sends the trailers (wantTrailers)
  });
  inbound.on('wantTrailers', () => {
    try { inbound.sendTrailers(trailers ?? {}); } catch { inbound.close(); }
  });

  upstream.on('error', () => { /* handled on close */ });
  inbound.on('error', () => { /* handled on close */ });

  upstream.on('close', () => {
    const code = upstream.rstCode ?? NGHTTP2_NO_ERROR;
    if (code === NGHTTP2_NO_ERROR && status !== 0 && upstreamComplete) {
      // A clean end; the inbound side finishes once its trailers are sent.
      finish({ status });
      return;
    }
    if (inbound.destroyed || inbound.closed) {
      finish({ status: status || 499, error: 'client went away' });
      return;
    }
    const lost = session.destroyed;
    const reason = !lost ? `${name} reset the stream (code ${code})` : connectingAtStart ? `${name} not reachable` : `${name} disconnected`;
    const grpc = isGrpcRequest(headers);
    if (grpc && !lost && code !== NGHTTP2_NO_ERROR) {
      // The upstream itself reset the call: relay its code (REFUSED_STREAM lets gRPC clients retry).
      inbound.close(code);
      finish({ status: status || 502, error: reason });
    } else if (!inbound.headersSent) {
      respondH2Error(inbound, 502, options.clientReason ?? reason, headers);
      finish({ status: 502, error: reason });
    } else if (grpc && !inbound.writableEnded) {
      // The response started: end it with a gRPC status in the trailers instead of a bare reset.
      const told = options.clientReason ?? reason;
      trailers = { ...buildGrpcStatusHeaders(502, told), 'x-detour-reason': told };
      upstream.unpipe(inbound);
      inbound.end();
      finish({ status, error: reason });
    } else {
      inbound.close(code === NGHTTP2_NO_ERROR ? NGHTTP2_CANCEL : code);
      finish({ status, error: reason });
    }
  });
  inbound.on('close', () => {
    if (!upstream.closed && !upstream.destroyed) {
      upstream.close(NGHTTP2_CANCEL);
      finish({ status: status || 499, error: 'client went away' });
    }
  });
  return upstream;
}
