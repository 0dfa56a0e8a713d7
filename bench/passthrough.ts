// Item 1: the sidecar in pass-through (no routes) against going direct to the app and against
// Debian's nginx (1 worker, keep-alive upstream) as a reverse proxy. All serve the same app
// process; rounds interleave the targets (rotating the order) so drift hits all alike. A second
// sidecar holds 100 routes (issue #16): once with no request matching, once with 10 % matching one
// route (fallback App: no developer, so this measures the routing cost, not the tunnel).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goalAtLeast, goalAtMost, figureList, type SectionResult } from './figures.js';
import { closedLoop, fixedRate, keepAliveAgent, wrk, type Target, type ThroughputRun } from './load.js';
import { childPids, cpuSeconds, rssBytes, sampleRss, sumOver } from './procfs.js';
import { freePort, profileArgs, REPO_ROOT, sleep, startChild, startRole, waitForHttp, type Child } from './processes.js';
import { percentile, ratioOf, summarize } from './stats.js';
import type { Tools } from './ensure-tools.js';
import type { BenchPlan } from './plan.js';
import { buildNginxProxyConfig } from '../test/fixtures/nginx-proxy.js';
import type { RoutingTable } from '../core/routing/table.js';
import { hashToken } from '../core/tunnel/protocol.js';
import { startFakeOperator } from './tunnel.js';

type Name = 'direct' | 'sidecar' | 'nginx' | 'routes100' | 'match10';

/** 100 Steal routes on header values no bench request carries but one (`route-50`), fallback App. */
function hundredRoutes(): RoutingTable {
  return {
    version: 1, epoch: 'bench', workload: { kind: 'Deployment', namespace: 'bench', name: 'bench' },
    routes: Array.from({ length: 100 }, (_, i) => ({
      intercept: `bench/route-${i}`, port: 'http', match: { headers: [{ name: 'x-detour-user', exact: `route-${i}` }] }, mode: 'Steal' as const, fallback: 'App' as const,
      tokenHash: hashToken(`bench-route-token-${i}`), createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    })),
  };
}

/** wrk Lua script: every 10th request carries the header of route 50. */
const MATCH_10_PERCENT_LUA = `counter = 0
request = function()
  counter = counter + 1
  if counter % 10 == 0 then return wrk.format("GET", nil, { ["X-Detour-User"] = "route-50" }) end
  return wrk.format("GET")
end
`;

async function startNginx(bin: string, appPort: number): Promise<Child<{ port: number }>> {
  const prefix = mkdtempSync(join(tmpdir(), 'detour-bench-nginx-'));
  const port = await freePort();
  writeFileSync(join(prefix, 'nginx.conf'), buildNginxProxyConfig(prefix, port, appPort));
  const child = await startChild<{ port: number }>(bin, ['-p', prefix, '-c', join(prefix, 'nginx.conf')], {
    name: 'nginx', ready: async () => { await waitForHttp(`http://127.0.0.1:${port}/`); return { port }; },
  });
  return child;
}

/** The sidecar as shipped (dist/sidecar/main.js), configured like the webhook would, without an operator unless given. */
export async function startSidecarProcess(appPort: number, extraEnv: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Child<{ port: number; tunnelPort: number; adminPort: number }>> {
  const [port, tunnelPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    POD_NAME: 'bench-1', POD_NAMESPACE: 'bench', DETOUR_WORKLOAD: 'Deployment/bench',
    DETOUR_PORTS: JSON.stringify([{ name: 'http', appPort, listenPort: port }]),
    DETOUR_APP_HOST: '127.0.0.1', DETOUR_BIND_HOST: '127.0.0.1',
    DETOUR_TUNNEL_PORT: String(tunnelPort), DETOUR_ADMIN_PORT: String(adminPort), DETOUR_LOG_LEVEL: 'info',
    ...extraEnv,
  };
  return startChild(process.execPath, [...profileArgs('sidecar'), ...nodeArgs, join(REPO_ROOT, 'dist/sidecar/main.js')], {
    name: 'sidecar', env,
    ready: async () => { await waitForHttp(`http://127.0.0.1:${adminPort}/readyz`); await waitForHttp(`http://127.0.0.1:${port}/`); return { port, tunnelPort, adminPort }; },
  });
}

/** A bare Node http server (the floor for a Node process's idle memory). */
async function startBareNode(): Promise<Child<{ port: number }>> {
  const port = await freePort();
  const code = `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`;
  return startChild(process.execPath, ['-e', code], { name: 'bare node', ready: async () => { await waitForHttp(`http://127.0.0.1:${port}/`); return { port }; } });
}

export async function benchPassthrough(plan: BenchPlan, tools: Tools, log: (l: string) => void): Promise<SectionResult> {
  const section = '1 pass-through';
  const notes: string[] = [];
  const app = await startRole<{ port: number }>('app', { bodyBytes: 1024 });
  const children: Child[] = [app as Child];
  try {
    const sidecar = await startSidecarProcess(app.info.port);
    children.push(sidecar as Child);
    const nginx = tools.nginx ? await startNginx(tools.nginx, app.info.port) : undefined;
    if (nginx) children.push(nginx as Child);
    else notes.push('nginx is missing: no nginx comparison');
    const operator = await startFakeOperator(hundredRoutes());
    const tokenDir = mkdtempSync(join(tmpdir(), 'detour-bench-'));
    writeFileSync(join(tokenDir, 'token'), 'bench-projected-token');
    const routed = await startSidecarProcess(app.info.port, { DETOUR_OPERATOR_URL: operator.url, DETOUR_TOKEN_PATH: join(tokenDir, 'token') });
    children.push(routed as Child, { stop: () => operator.close() } as Child);
    await operator.acked;
    const script = join(tokenDir, 'match10.lua');
    writeFileSync(script, MATCH_10_PERCENT_LUA);
    const bare = await startBareNode();
    children.push(bare as Child);

    // Idle memory: both freshly started and untouched but for one readiness request.
    await sleep(1000);
    const idleSidecar = rssBytes(sidecar.pid);
    const idleBare = rssBytes(bare.pid);
    await bare.stop();

    const ports: Record<Name, number> = { direct: app.info.port, sidecar: sidecar.info.port, nginx: nginx?.info.port ?? 0, routes100: routed.info.port, match10: routed.info.port };
    const pids: Record<Name, () => number[]> = {
      direct: () => [app.pid],
      sidecar: () => [sidecar.pid],
      nginx: () => (nginx ? [nginx.pid, ...childPids(nginx.pid)] : []),
      routes100: () => [routed.pid],
      match10: () => [routed.pid],
    };
    // The 10 % figure needs wrk's Lua scripting; without wrk only the 100-routes one is measured.
    const names: Name[] = [...(nginx ? ['direct', 'sidecar', 'nginx'] as const : ['direct', 'sidecar'] as const), 'routes100', ...(tools.wrk ? ['match10'] as const : [])];
    const target = (n: Name): Target => ({ host: '127.0.0.1', port: ports[n], path: '/orders/42' });
    const throughput = async (n: Name, seconds: number): Promise<ThroughputRun> => (tools.wrk
      ? wrk(tools.wrk, `http://127.0.0.1:${ports[n]}/orders/42`, plan.connections, seconds, {}, n === 'match10' ? script : undefined)
      : closedLoop(target(n), plan.connections, seconds));
    // Fixed-rate latency: the 10 % variant shares the 100-routes process and is left out.
    const latencyNames: Name[] = names.filter((n) => n !== 'match10');

    // Warm-up (JIT, pools) and the fixed rate: a quarter of the slowest target's throughput, at most 1000/s.
    let slowest = Infinity;
    for (const n of names) slowest = Math.min(slowest, (await throughput(n, 1)).rps);
    const rate = Math.max(100, Math.min(1000, Math.round(slowest / 4 / 50) * 50));
    log(`  pass-through: warm-up done; slowest target ~${Math.round(slowest)} req/s; latency at ${rate} req/s`);

    const m = Object.fromEntries(names.map((n) => [n, { rps: [] as number[], p50: [] as number[], p99: [] as number[], cpuPer1kLoad: [] as number[], cpuPer1kRate: [] as number[], rss: [] as number[], errors: 0 }])) as Record<Name, { rps: number[]; p50: number[]; p99: number[]; cpuPer1kLoad: number[]; cpuPer1kRate: number[]; rss: number[]; errors: number }>;
    for (let round = 0; round < plan.rounds; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]!);
      for (const n of order) {
        const cpu0 = sumOver(pids[n](), cpuSeconds);
        const rss = sampleRss(pids[n]);
        const t = await throughput(n, plan.throughputSeconds);
        const peak = rss.stop();
        const cpu1 = sumOver(pids[n](), cpuSeconds);
        m[n].rps.push(t.rps);
        m[n].errors += t.errors;
        m[n].cpuPer1kLoad.push(((cpu1 - cpu0) / t.requests) * 1000);
        m[n].rss.push(peak);
      }
      for (const n of order.filter((x) => latencyNames.includes(x))) {
        const agent = keepAliveAgent(false, 64);
        const cpu0 = sumOver(pids[n](), cpuSeconds);
        const r = await fixedRate(target(n), rate, plan.latencySeconds * 1000, agent);
        const cpu1 = sumOver(pids[n](), cpuSeconds);
        agent.destroy();
        m[n].p50.push(percentile(r.latenciesMs, 50));
        m[n].p99.push(percentile(r.latenciesMs, 99));
        m[n].cpuPer1kRate.push(((cpu1 - cpu0) / r.sent) * 1000);
        m[n].errors += r.errors;
      }
      log(`  pass-through round ${round + 1}/${plan.rounds}: ${names.map((n) => `${n} ${Math.round(m[n].rps[round]!)} req/s${m[n].p50[round] === undefined ? '' : ` p50 ${m[n].p50[round]!.toFixed(3)} ms`}`).join('; ')}`);
    }

    const { figures, add } = figureList(section);
    const added = (n: Name) => m[n].p50.map((v, i) => v - m.direct.p50[i]!);
    const added99 = (n: Name) => m[n].p99.map((v, i) => v - m.direct.p99[i]!);
    for (const n of names) {
      add(`${n} throughput`, summarize(m[n].rps), 'req/s', `wrk -t1 -c${plan.connections}, 1 KB answers`);
      if (latencyNames.includes(n)) add(`${n} p50 / p99 at ${rate}/s`, summarize(m[n].p50), 'ms', `p99 ${summarize(m[n].p99).median.toFixed(3)} ms`);
    }
    add('sidecar added p50', summarize(added('sidecar')), 'ms', 'sidecar p50 − direct p50, same round');
    add('sidecar added p99', summarize(added99('sidecar')), 'ms');
    if (nginx) {
      add('nginx added p50', summarize(added('nginx')), 'ms');
      add('nginx added p99', summarize(added99('nginx')), 'ms');
      const addedRatio = ratioOf(added('sidecar'), added('nginx'));
      add('added p50: sidecar / nginx', addedRatio, 'x', 'per-round ratio of added latencies', goalAtMost(addedRatio.median, 1.5));
      const tput = ratioOf(m.sidecar.rps, m.nginx.rps);
      add('throughput: sidecar / nginx', tput, 'x', undefined, goalAtLeast(tput.median, 0.7));
      add('throughput: sidecar / direct', ratioOf(m.sidecar.rps, m.direct.rps), 'x');
      const cpu = ratioOf(m.sidecar.cpuPer1kLoad, m.nginx.cpuPer1kLoad);
      add('CPU s per 1k req at saturation: sidecar / nginx', cpu, 'x',
        `sidecar ${summarize(m.sidecar.cpuPer1kLoad).median.toFixed(3)} s, nginx ${summarize(m.nginx.cpuPer1kLoad).median.toFixed(3)} s per 1000 requests`, goalAtMost(cpu.median, 2));
      add(`CPU s per 1k req at ${rate}/s: sidecar / nginx`, ratioOf(m.sidecar.cpuPer1kRate, m.nginx.cpuPer1kRate), 'x',
        `sidecar ${summarize(m.sidecar.cpuPer1kRate).median.toFixed(3)} s, nginx ${summarize(m.nginx.cpuPer1kRate).median.toFixed(3)} s per 1000 requests`);
      add('RSS under load: sidecar / nginx (master+worker)', ratioOf(m.sidecar.rss, m.nginx.rss), 'x',
        `sidecar ${(summarize(m.sidecar.rss).median / 2 ** 20).toFixed(1)} MiB, nginx ${(summarize(m.nginx.rss).median / 2 ** 20).toFixed(1)} MiB`);
      for (const n of names.filter((x) => x === 'routes100' || x === 'match10')) {
        const what = n === 'routes100' ? '100 routes, none matching' : '100 routes, 10 % matching (fallback App)';
        add(`throughput, ${what}: sidecar / nginx`, ratioOf(m[n].rps, m.nginx.rps), 'x', undefined, goalAtLeast(ratioOf(m[n].rps, m.nginx.rps).median, 0.7));
        add(`CPU s per 1k req, ${what}: sidecar / nginx`, ratioOf(m[n].cpuPer1kLoad, m.nginx.cpuPer1kLoad), 'x', `${summarize(m[n].cpuPer1kLoad).median.toFixed(3)} s per 1000 requests`, goalAtMost(ratioOf(m[n].cpuPer1kLoad, m.nginx.cpuPer1kLoad).median, 2));
      }
      add('added p50, 100 routes: sidecar / nginx', ratioOf(added('routes100'), added('nginx')), 'x', undefined, goalAtMost(ratioOf(added('routes100'), added('nginx')).median, 1.5));
    } else {
      add('throughput: sidecar / direct', ratioOf(m.sidecar.rps, m.direct.rps), 'x');
    }
    add('sidecar CPU s per 1k req (saturation)', summarize(m.sidecar.cpuPer1kLoad), 's');
    const rss = summarize(m.sidecar.rss.map((b) => b / 2 ** 20));
    add('sidecar RSS under load', rss, 'MiB', undefined, goalAtMost(rss.median, 50));
    add('idle RSS: sidecar / bare Node http server', summarize([idleSidecar / idleBare]), 'x',
      `sidecar ${(idleSidecar / 2 ** 20).toFixed(1)} MiB, bare node ${(idleBare / 2 ** 20).toFixed(1)} MiB (one sample each, freshly started)`, goalAtMost(idleSidecar / idleBare, 1.2));
    const errors = names.map((n) => `${n} ${m[n].errors}`).join(', ');
    notes.push(`errors (non-2xx, socket errors, timeouts): ${errors}`);
    return { section, figures, notes, raw: { rate, idleSidecar, idleBare, rounds: m } };
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
}
