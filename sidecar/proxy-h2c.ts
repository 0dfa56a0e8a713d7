// The h2c (prior-knowledge HTTP/2, gRPC) path of a taken-over port: Node's http2 server, every
// stream routed on its own and relayed by core/tunnel/h2-forward.ts to the app's shared h2c session,
// a developer's tunnel or Mirror. Loaded with the first h2c connection (`await import`).

import http2, { type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { forwardH2Stream, h2RequestHeaders, respondH2Error, type ForwardResult } from '../core/tunnel/h2-forward.js';
import { addForwardedHeaders } from '../core/tunnel/headers.js';
import { INTERCEPT_HEADER, MIRROR_HEADER, PROTO_HEADER } from '../core/tunnel/protocol.js';
import { ensureAppH2 } from './app-h2.js';
import type { RequestResult } from './metrics.js';
import { startMirror } from './mirror.js';
import type { ProxyContext } from './proxy-context.js';
import { CLIENT_REASON } from './router.js';

const { NGHTTP2_NO_ERROR } = http2.constants;

export interface H2cPath {
  /** Serves one connection whose first bytes (the preface) were already read; `remote` is the peer's address. */
  accept(connection: Duplex, remote: string): void;
  /** GOAWAY to every session; `destroy` drops what is left. */
  close(): void;
  destroy(): void;
}

export function buildH2cPath(ctx: ProxyContext): H2cPath {
  const { router, metrics, stats, app, logger } = ctx.deps;
  const appH2 = ensureAppH2(app, logger);
  const h2 = http2.createServer({ maxSessionMemory: 64, settings: { enablePush: false } });
  const h2Remote = new WeakMap<ServerHttp2Session, string>();
  const sessions = new Set<ServerHttp2Session>();
  const appName = `app on port ${ctx.appPort}`;
  let pendingRemote = '';
  h2.on('session', (session: ServerHttp2Session) => {
    h2Remote.set(session, pendingRemote);
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', (err: NodeJS.ErrnoException) => metrics.clientErrors.inc({ kind: err.code ?? 'h2_session' }));
    closeWhenIdle(session, ctx.limits.idleTimeoutMs, () => metrics.limitRefusals.inc({ limit: 'h2_idle' }));
  });
  h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const startedAt = performance.now();
    stream.on('error', () => { /* handled by the forwarder */ });
    const remote = h2Remote.get(stream.session as ServerHttp2Session) ?? '';
    const decision = router.decide(ctx.appPort, headers[':path'] ?? '/', headers);
    const forwarded: OutgoingHttpHeaders = { 'x-forwarded-for': headers['x-forwarded-for'], 'x-forwarded-proto': headers['x-forwarded-proto'] };
    addForwardedHeaders(forwarded, remote, 'http');
    const done = (result: RequestResult, intercept: string) => (r: ForwardResult): void => ctx.record(r.status === 502 ? 'failed' : result, intercept, startedAt, r.status === 502 ? r.error : undefined);
    const toApp = { extraHeaders: forwarded, upstreamName: appName, clientReason: CLIENT_REASON.upstream };
    switch (decision.kind) {
      case 'app':
        forwardH2Stream(stream, headers, appH2(), { ...toApp, onDone: done('app', '') });
        return;
      case 'fallback':
        stats.fallback(decision.route.intercept);
        forwardH2Stream(stream, headers, appH2(), { ...toApp, onDone: done('fallback', decision.route.intercept) });
        return;
      case 'reject':
        stats.fallback(decision.route.intercept);
        respondH2Error(stream, 503, decision.reason, headers);
        ctx.record('rejected', decision.route.intercept, startedAt);
        return;
      case 'mirror': {
        stats.routed(decision.route.intercept);
        const copyHeaders = h2RequestHeaders(headers, { ...forwarded, [PROTO_HEADER]: 'h2', [MIRROR_HEADER]: '1', [INTERCEPT_HEADER]: decision.route.intercept });
        const mirror = startMirror(decision.tunnel.session, copyHeaders, !stream.endAfterHeaders, () => undefined);
        stream.on('data', (c: Buffer) => mirror.write(c));
        stream.on('end', () => mirror.end());
        stream.on('close', () => { if (stream.rstCode !== NGHTTP2_NO_ERROR) mirror.abort(); });
        forwardH2Stream(stream, headers, appH2(), { ...toApp, onDone: done('mirrored', decision.route.intercept) });
        return;
      }
      case 'developer': {
        stats.routed(decision.route.intercept);
        const gauge = ctx.series.activeStreams(decision.route.intercept);
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
  return {
    accept(connection, remote) {
      pendingRemote = remote;
      h2.emit('connection', connection);
    },
    close() { for (const s of sessions) s.close(); },
    destroy() { for (const s of sessions) s.destroy(); },
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
