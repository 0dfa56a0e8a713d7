// The inbound proxy of one taken-over port: a plain TCP listener that looks at the first bytes of
// each connection. The HTTP/2 connection preface goes to the h2c path (proxy-h2c.ts, gRPC), anything
// else to the byte-level HTTP/1.1 path (http1-byte-path.ts), which hands what it does not splice
// itself to the Node path (http1-node-path.ts). The h2c and Node paths are loaded on first use.
// Every request (also each one on a reused keep-alive connection, and every HTTP/2 stream) is
// routed on its own. This file keeps the connection limit, the timeouts and shutdown.

import net from 'node:net';
import { PrefixedSocket } from '../core/prefixed-socket.js';
import { Http1Connection, type BytePathEnv } from './http1-byte-path.js';
import { buildProxyContext, KEEP_ALIVE_TIMEOUT_MS, type ProxyDeps } from './proxy-context.js';
import type { H2cPath } from './proxy-h2c.js';

export { buildProxyLimits, type ProxyDeps, type ProxyLimits } from './proxy-context.js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface ProxyListener {
  server: net.Server;
  /** Stops accepting, ends idle keep-alive connections and HTTP/2 sessions; after `graceMs` drops what is left. */
  close(graceMs?: number): Promise<void>;
  /** Drops the cached metric children of an intercept that is gone (see intercept-series.ts). */
  forget(intercept: string): void;
}

/** A module loaded once, on first use: the value once there, the promise while loading. */
function lazy<T>(load: () => Promise<T>): { get(): T | Promise<T>; current(): T | undefined } {
  let value: T | undefined;
  let loading: Promise<T> | undefined;
  return {
    get() {
      if (value !== undefined) return value;
      return loading ??= load().then((v) => (value = v), (err: unknown) => { loading = undefined; throw err; });
    },
    current: () => value,
  };
}

export function buildProxyListener(deps: ProxyDeps): ProxyListener {
  const { metrics } = deps;
  // Connection limit. A connection is busy while a request it carried is being answered, for its
  // whole life once upgraded, and always when it speaks h2c (idle sessions end by idleTimeoutMs).
  // At the limit the oldest connection that is not busy (silent, idle keep-alive, still sending its
  // request head) is closed to admit the new one; with none, the new one is refused.
  const sockets = new Set<net.Socket>();
  const busy = new Map<object, number>();
  const markBusy = (s: object, n: number): void => { busy.set(s, (busy.get(s) ?? 0) + n); };
  const ctx = buildProxyContext(deps, markBusy);
  const { limits } = ctx;
  const http1 = new Map<net.Socket, Http1Connection>();
  let closing = false;

  const nodePath = lazy(async () => (await import('./http1-node-path.js')).buildNodePath(ctx));
  const h2c = lazy(async () => (await import('./proxy-h2c.js')).buildH2cPath(ctx));
  const env: BytePathEnv = {
    ctx,
    nodePath: nodePath.get,
    closing: () => closing,
    onGone: (c) => { if (http1.get(c.socket) === c) http1.delete(c.socket); },
  };

  // Head, request and keep-alive timeouts of the byte path: one sweep per listener, like Node's
  // connectionsCheckingInterval, rather than a timer per request.
  const checkEveryMs = Math.max(50, Math.min(30_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs || Infinity, KEEP_ALIVE_TIMEOUT_MS) / 4)));
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = (): void => {
    const now = performance.now();
    for (const c of [...http1.values()]) c.sweep(now);
    if (http1.size === 0) { clearInterval(sweeper); sweeper = undefined; }
  };

  const admit = (): boolean => {
    if (sockets.size < limits.maxConnections) return true;
    for (const s of sockets) {
      if ((busy.get(s) ?? 0) > 0 || http1.get(s)?.busy === true) continue;
      sockets.delete(s);
      s.destroy();
      metrics.limitRefusals.inc({ limit: 'idle_evicted' });
      return true;
    }
    return false;
  };

  const serveH2c = (socket: net.Socket, seen: Buffer): void => {
    markBusy(socket, 1);
    const path = h2c.get();
    const accept = (p: H2cPath): void => { if (!socket.destroyed) p.accept(new PrefixedSocket(socket, seen), socket.remoteAddress ?? ''); };
    if (path instanceof Promise) path.then(accept, () => socket.destroy());
    else accept(path);
  };

  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    if (!admit()) {
      metrics.limitRefusals.inc({ limit: 'connections' });
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => { sockets.delete(socket); busy.delete(socket); http1.delete(socket); });
    socket.setTimeout(limits.headersTimeoutMs, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    let seen: Buffer | undefined;
    const onData = (chunk: Buffer): void => {
      seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const isH2 = seen.compare(H2_PREFACE, 0, n, 0, n) === 0;
      if (isH2 && seen.length < H2_PREFACE.length) return; // need the whole preface to decide
      socket.off('data', onData);
      socket.setTimeout(0);
      if (isH2) {
        socket.pause();
        serveH2c(socket, seen);
        return;
      }
      http1.set(socket, new Http1Connection(socket, seen, env));
      sweeper ??= setInterval(sweep, checkEveryMs).unref();
    };
    socket.on('data', onData);
    // A client that ends before sending anything (allowHalfOpen: the byte path decides per request).
    socket.on('end', () => { if (seen === undefined) socket.destroy(); });
  });

  return {
    server,
    forget: (intercept) => ctx.series.forget(intercept),
    close: (graceMs = 5_000) => new Promise<void>((resolve) => {
      closing = true;
      server.close(() => resolve());
      for (const c of [...http1.values()]) c.closeIfIdle();
      nodePath.current()?.close();
      h2c.current()?.close();
      clearInterval(sweeper);
      setTimeout(() => {
        h2c.current()?.destroy();
        for (const s of sockets) s.destroy();
      }, graceMs).unref();
    }),
  };
}
