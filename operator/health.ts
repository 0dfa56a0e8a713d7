// /healthz (the process is alive) and /readyz (only the leader, once its caches synced, is Ready,
// so the Service sends sidecars to the leader), plus /metrics on its own port.

import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export function buildHealthApp(deps: { ready(): boolean }): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => 'ok\n');
  app.get('/readyz', async (_req, reply) => {
    if (deps.ready()) return 'ok\n';
    return reply.code(503).send('not the leader\n');
  });
  return app;
}

export function buildMetricsApp(registry: Registry): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
  return app;
}
