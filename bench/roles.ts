// Entry point of the benchmark's child processes: `node --import tsx bench/roles.ts <role> <json>`.
// Long-running roles print `READY <json>` once listening; one-shot roles print `RESULT <json>` lines
// and exit. Everything binds 127.0.0.1 only.

import { randomFillSync } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

type Config = Record<string, unknown>;

function ready(info: unknown): void {
  process.stdout.write(`READY ${JSON.stringify(info)}\n`);
}
function result(info: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(info)}\n`);
}
function listen(server: net.Server | http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** The app / the developer's local service: a fixed small body on any path, `/big?bytes=N` streams N bytes. */
async function app(c: Config): Promise<void> {
  const small = Buffer.alloc(Number(c.bodyBytes ?? 1024), 'x');
  const chunk = Buffer.alloc(1 << 20, 'y');
  const server = http.createServer((req, res) => {
    req.resume();
    if (req.url?.startsWith('/big')) {
      let left = Number(new URL(req.url, 'http://x').searchParams.get('bytes') ?? 0);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { res.once('drain', pump); return; }
        }
        res.end();
      };
      pump();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': small.length, 'x-served-by': String(c.name ?? 'app') });
    res.end(small);
  });
  server.keepAliveTimeout = 65_000;
  ready({ port: await listen(server) });
}

/** A raw TCP relay: every connection is spliced to target (what kubectl port-forward or ssh -L would do, minus the API server). */
async function relay(c: Config): Promise<void> {
  const target = Number(c.targetPort);
  const server = net.createServer({ noDelay: true }, (down) => {
    const up = net.connect({ host: '127.0.0.1', port: target, noDelay: true });
    down.pipe(up);
    up.pipe(down);
    const kill = (): void => { down.destroy(); up.destroy(); };
    down.on('error', kill);
    up.on('error', kill);
    down.on('close', kill);
    up.on('close', kill);
  });
  ready({ port: await listen(server) });
}

/** The developer end of a tunnel (what `detour` runs on a laptop), forwarding to `target`. */
async function developer(c: Config): Promise<void> {
  const { connectTunnel } = await import('../core/tunnel/developer.js');
  // BENCH_TUNNEL_MASK=random: random masking keys as over a non-loopback ws:// URL (to measure what masking costs).
  const randomMask = process.env.BENCH_TUNNEL_MASK === 'random' ? { webSocketOptions: { generateMask: (m: Buffer) => { randomFillSync(m); } } } : {};
  // BENCH_TUNNEL_PROTOCOL=v1 (or config.subprotocols): offer only detour-tunnel.v1 (HTTP/1 as HTTP/2 requests, the v0.1.0 path) to compare.
  const v1Only = process.env.BENCH_TUNNEL_PROTOCOL === 'v1' ? { subprotocols: ['detour-tunnel.v1'] } : Array.isArray(c.subprotocols) ? { subprotocols: c.subprotocols.map(String) } : {};
  const tunnel = await connectTunnel({ url: String(c.url), token: String(c.token), target: String(c.target), ...randomMask, ...v1Only });
  ready({ ok: true, protocol: tunnel.protocol });
  await tunnel.closed;
}

/**
 * The CLI's outbound path on the laptop: a `--forward` listener (cli/forward.ts) whose connections
 * go as CONNECT streams over one outbound tunnel (core/tunnel/outbound.ts) to `target` in the pod.
 */
async function outboundForward(c: Config): Promise<void> {
  const { buildOutboundDialer, connectOutbound } = await import('../core/tunnel/outbound.js');
  const { buildForwardListener } = await import('../cli/forward.js');
  const dialer = buildOutboundDialer({ connect: () => connectOutbound({ url: String(c.url), token: String(c.token) }) });
  await dialer.connect();
  const server = buildForwardListener({ dialer, target: { host: String(c.targetHost), port: Number(c.targetPort) } });
  ready({ port: await listen(server) });
}

/** Downloads `path` (discarding the bytes) `repeat` times or until `untilMs` has passed; one RESULT per download. */
async function download(c: Config): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const deadline = Date.now() + Number(c.untilMs ?? 0);
  const repeat = Number(c.repeat ?? 1);
  ready({});
  for (let i = 0; i < repeat; i++) {
    if (i > 0 && Date.now() > deadline) break;
    const started = performance.now();
    const bytes = await new Promise<number>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: Number(c.port), path: String(c.path), headers: c.headers as Record<string, string>, agent }, (res) => {
        let n = 0;
        res.on('data', (b: Buffer) => { n += b.length; });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      });
      req.setTimeout(120_000, () => req.destroy(new Error('download timed out')));
      req.on('error', reject);
    });
    result({ seconds: (performance.now() - started) / 1000, bytes });
  }
  agent.destroy();
  process.exit(0);
}

async function main(): Promise<void> {
  const [role, json] = process.argv.slice(2);
  const config = JSON.parse(json ?? '{}') as Config;
  process.on('SIGTERM', () => process.exit(0));
  switch (role) {
    case 'app': return app(config);
    case 'relay': return relay(config);
    case 'developer': return developer(config);
    case 'outbound-forward': return outboundForward(config);
    case 'download': return download(config);
    case 'webhook': return (await import('./webhook-servers.js')).startWebhookServers(ready);
    case 'operator-scale': return (await import('./operator-scale.js')).runOperatorScale(config, result);
    case 'intercept-latency': return (await import('./intercept-latency.js')).runInterceptLatency(config, result);
    default: throw new Error(`unknown role ${role}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
