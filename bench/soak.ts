// Section 6: does a busy sidecar's memory stay flat? Two sidecars (dist/sidecar/main.js, with the
// NODE_OPTIONS the webhook injects for the chart's 128Mi limit, plus --expose-gc so the reading can
// collect first) behind one stand-in operator, under steady load (100 req/s without the header and
// 20 req/s with one, per sidecar) while developers churn: every second a new intercept is routed, a
// developer connects to both sidecars, serves for 6 s and leaves (drain, route removed). At the first
// reading (60 s; quick 15 s) and at the end (300 s; quick 75 s; BENCH_SOAK_SECONDS overrides) each
// sidecar is asked for /debug/memory?gc=1 (full GC, then heap used) and its RSS is read from /proc.
// Figures: end / first reading, per sidecar; goal ≤ 1.05.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { CONTROL_PATH, type OperatorToSidecar, type SidecarToOperator } from '../core/control/protocol.js';
import type { Route, RoutingTable } from '../core/routing/table.js';
import { connectTunnel, type Tunnel } from '../core/tunnel/developer.js';
import { hashToken } from '../core/tunnel/protocol.js';
import type { MemoryReport } from '../sidecar/memory.js';
import { buildSidecarNodeOptions } from '../webhook/node-options.js';
import { figureList, goalAtMost, type SectionResult } from './figures.js';
import { keepAliveAgent } from './load.js';
import { startSidecarProcess } from './passthrough.js';
import type { BenchPlan } from './plan.js';
import { rssBytes, sampleRss } from './procfs.js';
import { sleep } from '../core/sleep.js';
import { startRole, type Child } from './processes.js';
import { summarize } from './stats.js';

const MiB = 2 ** 20;
const WORKLOAD = { kind: 'Deployment' as const, namespace: 'bench', name: 'soak' };
const DEVELOPER_LIFE_MS = 6000;
const NEW_DEVELOPER_EVERY_MS = 1000;

interface StandInOperator {
  url: string;
  /** Pushes a table with these routes to every sidecar and waits until all acknowledged it. */
  push(routes: Route[]): Promise<void>;
  close(): Promise<void>;
}

async function startStandInOperator(sidecars: number): Promise<StandInOperator> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: CONTROL_PATH });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  let table: RoutingTable = { version: 1, epoch: 'soak', workload: WORKLOAD, routes: [] };
  const acked = new Map<WebSocket, number>();
  const waiters = new Set<() => void>();
  const check = (): void => { for (const w of waiters) w(); };
  wss.on('connection', (ws) => {
    acked.set(ws, 0);
    ws.send(JSON.stringify({ type: 'table', table } satisfies OperatorToSidecar));
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as SidecarToOperator;
      if (msg.type === 'ack') { acked.set(ws, Math.max(acked.get(ws) ?? 0, msg.version)); check(); }
    });
    ws.on('close', () => acked.delete(ws));
  });
  const allAcked = (version: number): Promise<void> => new Promise((resolve) => {
    const w = (): void => {
      if (acked.size >= sidecars && [...acked.values()].every((v) => v >= version)) { waiters.delete(w); resolve(); }
    };
    waiters.add(w);
    w();
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}${CONTROL_PATH}`,
    async push(routes) {
      table = { ...table, version: table.version + 1, routes };
      for (const ws of acked.keys()) ws.send(JSON.stringify({ type: 'table', table } satisfies OperatorToSidecar));
      await allAcked(table.version);
    },
    close: () => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }),
  };
}

interface Reading { atSeconds: number; rssBytes: number; heapUsedBytes: number; heapTotalBytes: number }

async function readSidecar(pid: number, adminPort: number, atSeconds: number): Promise<Reading> {
  let report: MemoryReport | undefined;
  for (let i = 0; i < 2; i++) { // twice: the second full GC also frees what the first one's finalizers released
    const res = await fetch(`http://127.0.0.1:${adminPort}/debug/memory?gc=1`);
    report = await res.json() as MemoryReport;
  }
  if (!report?.collected) throw new Error('the sidecar did not collect garbage (started without --expose-gc?)');
  return { atSeconds, rssBytes: rssBytes(pid), heapUsedBytes: report.heapUsedBytes, heapTotalBytes: report.heapTotalBytes };
}

export async function benchSoak(plan: BenchPlan, log: (l: string) => void): Promise<SectionResult> {
  const section = '6 soak';
  const notes: string[] = [];
  const children: Child[] = [];
  const nodeOptions = buildSidecarNodeOptions('128Mi')!;
  const operator = await startStandInOperator(2);
  const laptop = http.createServer((req, res) => { req.resume(); res.end('from the laptop\n'); });
  await new Promise<void>((r) => laptop.listen(0, '127.0.0.1', r));
  const laptopUrl = `http://127.0.0.1:${(laptop.address() as AddressInfo).port}`;
  const agent = keepAliveAgent(false, 32);
  const tunnels = new Set<Tunnel>();
  let stopLoad = false;
  try {
    const app = await startRole<{ port: number }>('app', { bodyBytes: 1024, name: 'cluster-app' });
    children.push(app as Child);
    const dir = mkdtempSync(join(tmpdir(), 'detour-soak-'));
    writeFileSync(join(dir, 'token'), 'bench-projected-token');
    const env = { DETOUR_OPERATOR_URL: operator.url, DETOUR_TOKEN_PATH: join(dir, 'token'), DETOUR_LOG_LEVEL: 'warn', NODE_OPTIONS: nodeOptions };
    const sidecars = [
      await startSidecarProcess(app.info.port, env, ['--expose-gc']),
      await startSidecarProcess(app.info.port, env, ['--expose-gc']),
    ];
    children.push(...(sidecars as Child[]));
    await operator.push([]);

    // Load: 100 req/s without the header and 20 req/s with the header of a developer who is there.
    const active: string[] = [];
    const counts = { sent: 0, ok: 0, errors: 0, toLaptop: 0 };
    const errorSamples: string[] = [];
    const send = (port: number, headers: Record<string, string>): void => {
      counts.sent++;
      const req = http.request({ host: '127.0.0.1', port, path: '/soak', headers, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => {
          if (res.statusCode === 200) { counts.ok++; if (body.startsWith('from the laptop')) counts.toLaptop++; }
          else { counts.errors++; if (errorSamples.length < 5) errorSamples.push(`${res.statusCode} ${body.trim().slice(0, 80)}`); }
        });
      });
      req.on('error', (err) => { counts.errors++; if (errorSamples.length < 5) errorSamples.push(err.message); });
      req.end();
    };
    // Fixed rate with catch-up: a late timer (a busy machine) sends what is due, not less.
    const loadStarted = Date.now();
    let tick = 0;
    const load = setInterval(() => {
      if (stopLoad) return;
      const due = Math.floor((Date.now() - loadStarted) / 10);
      for (; tick < due; tick++) {
        for (const s of sidecars) {
          send(s.info.port, {});
          if (tick % 5 === 0 && active.length > 0) send(s.info.port, { 'x-detour-user': active[tick % active.length]! });
        }
      }
    }, 10);

    // Churn: a developer arrives every second, serves both sidecars for 6 s, and leaves.
    const routes = new Map<string, Route>();
    let churned = 0;
    const developerSession = async (n: number): Promise<void> => {
      const user = `dev${n}`;
      const token = `soak-token-${n}-0123456789`;
      routes.set(user, { intercept: `bench/${user}`, port: 'http', mode: 'Steal', fallback: 'App', tokenHash: hashToken(token), match: { headers: [{ name: 'x-detour-user', exact: user }] } });
      await operator.push([...routes.values()]);
      const mine = await Promise.all(sidecars.map((s) => connectTunnel({ url: `ws://127.0.0.1:${s.info.tunnelPort}/tunnel`, token, target: laptopUrl })));
      for (const t of mine) tunnels.add(t);
      active.push(user);
      await sleep(DEVELOPER_LIFE_MS);
      active.splice(active.indexOf(user), 1);
      await Promise.all(mine.map((t) => t.close())); // drains, as the CLI does on Ctrl-C
      for (const t of mine) tunnels.delete(t);
      routes.delete(user);
      await operator.push([...routes.values()]);
      churned++;
    };
    const sessions: Array<Promise<void>> = [];
    const started = Date.now();
    const peaks = sidecars.map((s) => sampleRss(() => [s.pid], 250));
    let n = 0;
    const churn = setInterval(() => {
      if (Date.now() - started > plan.soakSeconds * 1000 - DEVELOPER_LIFE_MS) return;
      sessions.push(developerSession(n++).catch((err: unknown) => { counts.errors++; if (errorSamples.length < 5) errorSamples.push(`developer: ${String(err)}`); }));
    }, NEW_DEVELOPER_EVERY_MS);

    await sleep(plan.soakFirstReadingSeconds * 1000);
    const first = await Promise.all(sidecars.map((s) => readSidecar(s.pid, s.info.adminPort, plan.soakFirstReadingSeconds)));
    log(`  soak first reading at ${plan.soakFirstReadingSeconds} s: ${first.map((r, i) => `sidecar ${i + 1} RSS ${(r.rssBytes / MiB).toFixed(1)} MiB, heap after GC ${(r.heapUsedBytes / MiB).toFixed(1)} MiB`).join('; ')}`);
    const progress = setInterval(() => log(`  soak ${Math.round((Date.now() - started) / 1000)} s: ${counts.sent} requests, ${counts.errors} errors, ${churned} developers came and went`), 30_000);
    await sleep(Math.max(0, plan.soakSeconds * 1000 - (Date.now() - started)));
    clearInterval(progress);
    const last = await Promise.all(sidecars.map((s) => readSidecar(s.pid, s.info.adminPort, plan.soakSeconds)));
    clearInterval(churn);
    stopLoad = true;
    clearInterval(load);
    await Promise.all(sessions);
    const peak = peaks.map((p) => p.stop());

    const { figures, add } = figureList(section);
    sidecars.forEach((_, i) => {
      const a = first[i]!;
      const b = last[i]!;
      const rss = b.rssBytes / a.rssBytes;
      const heap = b.heapUsedBytes / a.heapUsedBytes;
      add(`sidecar ${i + 1} RSS at ${b.atSeconds} s`, summarize([b.rssBytes / MiB]), 'MiB', `at ${a.atSeconds} s: ${(a.rssBytes / MiB).toFixed(1)} MiB; peak ${(peak[i]! / MiB).toFixed(1)} MiB; limit 128 MiB`);
      add(`sidecar ${i + 1} RSS: ${b.atSeconds} s / ${a.atSeconds} s`, summarize([rss]), 'x', undefined, goalAtMost(rss, 1.05));
      add(`sidecar ${i + 1} heap after GC at ${b.atSeconds} s`, summarize([b.heapUsedBytes / MiB]), 'MiB', `at ${a.atSeconds} s: ${(a.heapUsedBytes / MiB).toFixed(2)} MiB; heap total ${(a.heapTotalBytes / MiB).toFixed(1)} → ${(b.heapTotalBytes / MiB).toFixed(1)} MiB`);
      add(`sidecar ${i + 1} heap after GC: ${b.atSeconds} s / ${a.atSeconds} s`, summarize([heap]), 'x', undefined, goalAtMost(heap, 1.05));
    });
    notes.push(`${counts.sent} requests (${counts.toLaptop} answered by a developer), ${counts.errors} errors${errorSamples.length ? ` (${errorSamples.join('; ')})` : ''}; ${churned} developers came and went; NODE_OPTIONS ${nodeOptions} --expose-gc`);
    return { section, figures, notes, raw: { first, last, peakRssBytes: peak, counts, churned, nodeOptions } };
  } finally {
    stopLoad = true;
    for (const t of tunnels) await t.terminate();
    agent.destroy();
    for (const c of children.reverse()) await c.stop();
    await operator.close();
    await new Promise<void>((r) => { laptop.closeAllConnections(); laptop.close(() => r()); });
  }
}
