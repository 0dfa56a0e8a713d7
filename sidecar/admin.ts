// Admin port: /healthz (the process serves), /readyz (the proxy listeners are up — deliberately
// not dependent on the operator: the sidecar fails open and passes traffic through), /metrics,
// /debug/memory (RSS and V8 heap; `?gc=1` collects first when the process runs with --expose-gc).

import http from 'node:http';
import type { Registry } from 'prom-client';
import { readMemory } from './memory.js';

export interface AdminDeps {
  registry: Registry;
  ready: () => boolean;
  /** Extra detail for /readyz and /healthz bodies. */
  status?: () => Record<string, unknown>;
}

export function buildAdminServer(deps: AdminDeps): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const ready = deps.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ ready, ...deps.status?.() })}\n`);
      return;
    }
    if (path === '/metrics') {
      deps.registry.metrics().then(
        (text) => { res.writeHead(200, { 'content-type': deps.registry.contentType }).end(text); },
        () => { res.writeHead(500).end('metrics unavailable\n'); },
      );
      return;
    }
    if (path === '/debug/memory') {
      const collect = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('gc') === '1';
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(readMemory(collect))}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
}
