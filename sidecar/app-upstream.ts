// Connections from the sidecar to the app container on localhost: a keep-alive HTTP/1.1 pool and
// one shared h2c session (HTTP/2 multiplexes; it is re-created when it goes away).

import http from 'node:http';
import http2, { type ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import type { Logger } from '../core/logging.js';
import { stripMappedV4 } from '../core/tunnel/headers.js';

export interface AppUpstream {
  host: string;
  port: number;
  agent: http.Agent;
  /**
   * The source address for a connection to the app on behalf of `inbound`: the address the client's
   * connection arrived on (the pod IP for traffic from outside the pod), so the app does not see
   * every client as loopback. Undefined when that address is the app host itself or of another
   * family (an IPv6 pod address cannot reach an IPv4 app host): the kernel then picks loopback.
   */
  sourceFor(inbound: net.Socket): string | undefined;
  /** The h2c session to the app, connected on first use. */
  h2(): ClientHttp2Session;
  close(): void;
}

export function buildAppUpstream(host: string, port: number, logger: Logger): AppUpstream {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
  let session: ClientHttp2Session | undefined;
  const authority = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const hostFamily = net.isIP(host);
  const sources = new WeakMap<net.Socket, string | undefined>();
  return {
    host,
    port,
    agent,
    sourceFor(inbound) {
      // Once per connection, not per request: `localAddress` asks the kernel (getsockname) each time.
      if (sources.has(inbound)) return sources.get(inbound);
      const local = stripMappedV4(inbound.localAddress);
      const source = local === undefined || local === host || hostFamily === 0 || net.isIP(local) !== hostFamily ? undefined : local;
      sources.set(inbound, source);
      return source;
    },
    h2() {
      if (session !== undefined && !session.closed && !session.destroyed) return session;
      const s = http2.connect(authority, { maxSessionMemory: 64 });
      s.on('error', (err: NodeJS.ErrnoException) => logger.debug({ port, code: err.code }, 'Lost h2c connection to the app'));
      s.on('goaway', () => { if (session === s) session = undefined; });
      s.on('close', () => { if (session === s) session = undefined; });
      s.unref();
      session = s;
      return s;
    },
    close() {
      agent.destroy();
      session?.destroy();
      session = undefined;
    },
  };
}
