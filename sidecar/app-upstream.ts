// Connections from the sidecar to the app container on localhost: a LIFO pool of raw TCP
// connections for the byte-level HTTP/1 path (one per request in flight; idle ones kept per source
// address), the keep-alive `http.Agent` the Node path uses for handed-over connections, and one
// shared h2c session (HTTP/2 multiplexes; `app-h2.ts`, loaded with the first h2c connection).

import http from 'node:http';
import type { ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import type { Logger } from '../core/logging.js';
import { stripMappedV4 } from '../core/tunnel/headers.js';

/** Idle raw connections kept per source address (like the agent's maxFreeSockets). */
const MAX_IDLE = 256;

/**
 * One raw connection to the app. Its listeners stay for its whole life and call whoever holds it
 * (an exchange of the byte path); while idle in the pool any event ends it.
 */
export interface AppConnectionOwner {
  onData(chunk: Buffer): void;
  onEnd(): void;
  onError(err: NodeJS.ErrnoException): void;
  onDrain(): void;
}

export class AppConnection {
  owner: AppConnectionOwner | undefined;
  /** It carried an earlier request (a failure before any answer may be a stale keep-alive close). */
  reused = false;
  connected = false;

  constructor(readonly socket: net.Socket, readonly source: string | undefined, onIdleGone: (c: AppConnection) => void) {
    socket.on('connect', () => { this.connected = true; });
    socket.on('data', (c: Buffer) => { if (this.owner) this.owner.onData(c); else { onIdleGone(this); socket.destroy(); } });
    socket.on('end', () => { if (this.owner) this.owner.onEnd(); else onIdleGone(this); });
    socket.on('error', (err: NodeJS.ErrnoException) => { if (this.owner) this.owner.onError(err); else onIdleGone(this); });
    socket.on('close', () => { if (this.owner) this.owner.onEnd(); else onIdleGone(this); });
    socket.on('drain', () => this.owner?.onDrain());
  }
}

export interface AppUpstream {
  host: string;
  port: number;
  /** The Node path's keep-alive agent (created on first use). */
  readonly agent: http.Agent;
  /**
   * The source address for a connection to the app on behalf of `inbound`: the address the client's
   * connection arrived on (the pod IP for traffic from outside the pod), so the app does not see
   * every client as loopback. Undefined when that address is the app host itself or of another
   * family (an IPv6 pod address cannot reach an IPv4 app host): the kernel then picks loopback.
   */
  sourceFor(inbound: net.Socket): string | undefined;
  /** An idle pooled connection from `source` (most recently used first), or a new one (always when `fresh`). */
  acquire(source: string | undefined, fresh?: boolean): AppConnection;
  /** Gives a connection back after a complete exchange. */
  release(conn: AppConnection): void;
  /** The h2c session to the app, connected on first use; set by `app-h2.ts` when the h2c path loads. */
  h2?: () => ClientHttp2Session;
  /** Runs `fn` on close (the h2c session registers here). */
  onClose(fn: () => void): void;
  close(): void;
}

export function buildAppUpstream(host: string, port: number, logger: Logger): AppUpstream {
  let agent: http.Agent | undefined;
  const hostFamily = net.isIP(host);
  const sources = new WeakMap<net.Socket, string | undefined>();
  const idle = new Map<string, AppConnection[]>();
  const all = new Set<AppConnection>();
  const closers: Array<() => void> = [];
  const drop = (c: AppConnection): void => {
    all.delete(c);
    const list = idle.get(c.source ?? '');
    const i = list?.indexOf(c) ?? -1;
    if (i >= 0) list!.splice(i, 1);
    if (!c.socket.destroyed) c.socket.destroy();
  };
  return {
    host,
    port,
    get agent() {
      return agent ??= new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
    },
    sourceFor(inbound) {
      // Once per connection, not per request: `localAddress` asks the kernel (getsockname) each time.
      if (sources.has(inbound)) return sources.get(inbound);
      const local = stripMappedV4(inbound.localAddress);
      const source = local === undefined || local === host || hostFamily === 0 || net.isIP(local) !== hostFamily ? undefined : local;
      sources.set(inbound, source);
      return source;
    },
    acquire(source, fresh = false) {
      const pooled = fresh ? undefined : idle.get(source ?? '')?.pop();
      if (pooled !== undefined) { pooled.reused = true; return pooled; }
      const socket = net.connect({ host, port, localAddress: source, noDelay: true });
      const conn = new AppConnection(socket, source, drop);
      all.add(conn);
      return conn;
    },
    release(conn) {
      conn.owner = undefined;
      if (conn.socket.destroyed || !conn.socket.writable) { drop(conn); return; }
      let list = idle.get(conn.source ?? '');
      if (list === undefined) idle.set(conn.source ?? '', list = []);
      if (list.length >= MAX_IDLE) { drop(conn); return; }
      list.push(conn);
    },
    onClose(fn) { closers.push(fn); },
    close() {
      agent?.destroy();
      for (const c of [...all]) { c.owner = undefined; drop(c); }
      for (const fn of closers) fn();
      logger.debug({ port }, 'Closed the connections to the app');
    },
  };
}
