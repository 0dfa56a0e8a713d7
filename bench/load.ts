// Load generators: wrk (Debian) for saturation throughput, and a fixed-rate (open-loop) Node client
// for latency below saturation. Loops are bounded by count and time.

import { execFile } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Target {
  host: string;
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  tls?: boolean;
}

export interface LatencyRun {
  latenciesMs: number[];
  errors: number;
  sent: number;
  elapsedMs: number;
}

/** Sends one request and resolves with its latency (ms) when the whole answer arrived. */
export function timedRequest(t: Target, agent: http.Agent): Promise<{ ms: number; status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const mod = t.tls ? https : http;
    const req = mod.request({ host: t.host, port: t.port, path: t.path, method: t.method ?? 'GET', headers: t.headers, agent, rejectUnauthorized: false } as https.RequestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(t.body);
  });
}

export function keepAliveAgent(tls = false, maxSockets = 64): http.Agent {
  return tls ? new https.Agent({ keepAlive: true, maxSockets, rejectUnauthorized: false }) : new http.Agent({ keepAlive: true, maxSockets });
}

/**
 * Open-loop load: `rate` requests per second for `durationMs`, each sent on schedule whether or not
 * earlier ones finished (so a slow server cannot slow the client down and hide its latency).
 * Latency is measured from the scheduled send time.
 */
export async function fixedRate(t: Target, rate: number, durationMs: number, agent: http.Agent): Promise<LatencyRun> {
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const start = performance.now();
  const inflight: Array<Promise<void>> = [];
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (sent < due) {
        const scheduled = start + (sent * 1000) / rate;
        sent++;
        inflight.push(timedRequest(t, agent).then(
          (r) => { if (r.status >= 500) errors++; else latencies.push(performance.now() - scheduled); },
          () => { errors++; },
        ));
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(inflight);
  return { latenciesMs: latencies, errors, sent, elapsedMs: performance.now() - start };
}

export interface ThroughputRun {
  rps: number;
  requests: number;
  seconds: number;
  errors: number;
}

/** wrk -t1 -cN -dS (with a Lua `script` when given); returns requests/s and the request count. */
export async function wrk(bin: string, url: string, connections: number, seconds: number, headers: Record<string, string> = {}, script?: string): Promise<ThroughputRun> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  if (script !== undefined) args.push('-s', script);
  args.push(url);
  const { stdout } = await run(bin, args, { timeout: (seconds + 20) * 1000 });
  const requests = Number(/(\d+) requests in ([\d.]+)(m?s)/.exec(stdout)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const errMatch = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const errors = non2xx + (errMatch ? errMatch.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, requests, seconds, errors };
}

/** Fallback when wrk is missing: N keep-alive connections each sending back-to-back requests. */
export async function closedLoop(t: Target, connections: number, seconds: number): Promise<ThroughputRun> {
  const agent = keepAliveAgent(t.tls, connections);
  const deadline = performance.now() + seconds * 1000;
  let requests = 0;
  let errors = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < deadline) {
      try { await timedRequest(t, agent); requests++; } catch { errors++; }
    }
  }));
  agent.destroy();
  const elapsed = (performance.now() - start) / 1000;
  return { rps: requests / elapsed, requests, seconds: elapsed, errors };
}
