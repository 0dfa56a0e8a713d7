// The manager's servers (runtime/manager.ts `Server`) for what the operator listens with: a Node
// HTTP(S) server and a fastify app. `port()` is the bound port once started (0 picks a free one).

import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { Server } from './manager.js';

export interface ListeningServer extends Server {
  port(): number;
}

export function nodeServer(name: string, server: HttpServer | HttpsServer, port: number, host: string): ListeningServer {
  let bound = 0;
  return {
    name,
    port: () => bound,
    start: () => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        bound = (server.address() as AddressInfo).port;
        resolve();
      });
    }),
    async stop() {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
    },
  };
}

export function fastifyServer(name: string, app: FastifyInstance, port: number, host: string): ListeningServer {
  let bound = 0;
  return {
    name,
    port: () => bound,
    async start() {
      await app.listen({ port, host });
      bound = (app.server.address() as AddressInfo).port;
    },
    stop: () => app.close(),
  };
}
