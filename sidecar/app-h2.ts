// The one shared h2c session from the sidecar to the app (gRPC). Loaded with the first h2c
// connection, so a sidecar that never sees HTTP/2 never loads `node:http2` for the app side.

import http2, { type ClientHttp2Session } from 'node:http2';
import type { Logger } from '../core/logging.js';
import type { AppUpstream } from './app-upstream.js';

/** Gives `app` its `h2()`: the session, (re)connected on use after it went away. */
export function ensureAppH2(app: AppUpstream, logger: Logger): () => ClientHttp2Session {
  if (app.h2 !== undefined) return app.h2;
  let session: ClientHttp2Session | undefined;
  const authority = `http://${app.host.includes(':') ? `[${app.host}]` : app.host}:${app.port}`;
  const h2 = (): ClientHttp2Session => {
    if (session !== undefined && !session.closed && !session.destroyed) return session;
    const s = http2.connect(authority, { maxSessionMemory: 64 });
    s.on('error', (err: NodeJS.ErrnoException) => logger.debug({ port: app.port, code: err.code }, 'Lost h2c connection to the app'));
    s.on('goaway', () => { if (session === s) session = undefined; });
    s.on('close', () => { if (session === s) session = undefined; });
    s.unref();
    session = s;
    return s;
  };
  app.h2 = h2;
  app.onClose(() => { session?.destroy(); session = undefined; });
  return h2;
}
