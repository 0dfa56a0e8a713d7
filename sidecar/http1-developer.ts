// HTTP/1 requests and upgrades routed to a developer: each becomes one stream of the developer's
// tunnel (HTTP/2 over the WebSocket), with the tunnel markers the developer end reads. Mirror copies
// use the same request headers with the mirror marker.

import http2, { type IncomingHttpHeaders } from 'node:http2';
import { STATUS_CODES, type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import type net from 'node:net';
import type { Gauge } from 'prom-client';
import { addForwardedHeaders, cleanTrailers, endToEndHeaders, h2ToHttp1Headers, TUNNEL_HEADER_PREFIX } from '../core/tunnel/headers.js';
import { INTERCEPT_HEADER, MIRROR_HEADER, PROTO_HEADER, STATUS_HEADER, UPGRADE_HEADER } from '../core/tunnel/protocol.js';
import { CLIENT_REASON, type Decision } from './router.js';
import type { TunnelPeer } from './tunnel-registry.js';
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

export function proxyHttp1ToDeveloper(
  req: IncomingMessage, res: ServerResponse, decision: Extract<Decision, { kind: 'developer' }>, series: ActiveStreams, onDone: Done,
): void {
  const tunnel: TunnelPeer = decision.tunnel;
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
