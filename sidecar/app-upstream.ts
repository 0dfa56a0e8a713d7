// Connections from the sidecar to the app container on localhost: a keep-alive HTTP/1.1 pool and
// one shared h2c session (HTTP/2 multiplexes; it is re-created when it goes away).

import http from 'node:http';
import http2, { type ClientHttp2Session } from 'node:http2';
import type { Logger } from '../core/logging.js';

export interface AppUpstream {
  host: string;
  port: number;
  agent: http.Agent;
  /** The h2c session to the app, connected on first use. */
  h2(): ClientHttp2Session;
  close(): void;
}

export function buildAppUpstream(host: string, port: number, logger: Logger): AppUpstream {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
  let session: ClientHttp2Session | undefined;
  const authority = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    host,
    port,
    agent,
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
