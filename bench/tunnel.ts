// Item 2: requests through the developer tunnel (client → sidecar → WebSocket + HTTP/2 → developer
// end → local service; HTTP/1 requests as their own bytes on detour-tunnel.v2) against a raw TCP relay with the same process layout (client → relay in the
// sidecar's place → relay in the developer's place → the same local service). The relay is the floor
// any tunnel has to pay: two extra loopback hops, no parsing.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { CONTROL_PATH, type OperatorToSidecar, type SidecarToOperator } from '../core/control/protocol.js';
import type { RoutingTable } from '../core/routing/table.js';
import { hashToken } from '../core/tunnel/protocol.js';
import { goalAtLeast, goalAtMost, figureList, type SectionResult } from './figures.js';
import { closedLoop, fixedRate, keepAliveAgent, timedRequest, wrk, type Target, type ThroughputRun } from './load.js';
import { startSidecarProcess } from './passthrough.js';
import type { BenchPlan } from './plan.js';
import { profileArgs, startRole, type Child } from './processes.js';
import { percentile, ratioOf, summarize } from './stats.js';
import type { Tools } from './ensure-tools.js';

const BENCH_USER = { 'x-detour-user': 'bench' };
const TOKEN = 'bench-token-0123456789';
// A second developer that offers only detour-tunnel.v1 (HTTP/1 as HTTP/2 requests, the v0.1.0 path),
// measured in the same rounds so the two HTTP/1 paths compare side by side.
const BENCH_USER_V1 = { 'x-detour-user': 'bench-v1' };
const TOKEN_V1 = 'bench-token-v1-0123456789';

/** A stand-in for the operator's control channel: pushes one table to every sidecar that connects, records acks. */
export async function startFakeOperator(table: RoutingTable): Promise<{ url: string; acked: Promise<void>; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: CONTROL_PATH });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  let onAck: () => void = () => undefined;
  const acked = new Promise<void>((r) => { onAck = r; });
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'table', table } satisfies OperatorToSidecar));
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as SidecarToOperator;
      if (msg.type === 'ack' && msg.version === table.version) onAck();
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}${CONTROL_PATH}`,
    acked,
    close: () => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }),
  };
}

export async function benchTunnel(plan: BenchPlan, tools: Tools, log: (l: string) => void): Promise<SectionResult> {
  const section = '2 tunnel';
  const notes: string[] = [];
  const children: Child[] = [];
  const table: RoutingTable = {
    version: 1, epoch: 'bench', workload: { kind: 'Deployment', namespace: 'bench', name: 'bench' },
    routes: [
      { intercept: 'bench/dev', port: 'http', match: { headers: [{ name: 'x-detour-user', exact: 'bench' }] }, mode: 'Steal', fallback: 'Reject', tokenHash: hashToken(TOKEN) },
      { intercept: 'bench/dev-v1', port: 'http', match: { headers: [{ name: 'x-detour-user', exact: 'bench-v1' }] }, mode: 'Steal', fallback: 'Reject', tokenHash: hashToken(TOKEN_V1) },
    ],
  };
  const operator = await startFakeOperator(table);
  try {
    const app = await startRole<{ port: number }>('app', { bodyBytes: 1024, name: 'cluster-app' });
    children.push(app as Child);
    const laptop = await startRole<{ port: number }>('app', { bodyBytes: 1024, name: 'laptop' });
    children.push(laptop as Child);
    const dir = mkdtempSync(join(tmpdir(), 'detour-bench-'));
    writeFileSync(join(dir, 'token'), 'bench-projected-token');
    const sidecar = await startSidecarProcess(app.info.port, { DETOUR_OPERATOR_URL: operator.url, DETOUR_TOKEN_PATH: join(dir, 'token') });
    children.push(sidecar as Child);
    await operator.acked;
    const dev = await startRole<{ protocol?: string }>('developer', { url: `ws://127.0.0.1:${sidecar.info.tunnelPort}/tunnel`, token: TOKEN, target: `http://127.0.0.1:${laptop.info.port}` }, { nodeArgs: profileArgs('developer') });
    children.push(dev as Child);
    // The figures are for the tunnel protocol the current CLI and sidecar negotiate (detour-tunnel.v2:
    // HTTP/1 requests as their own bytes); say so, so that a fallback to v1 cannot pass unnoticed.
    notes.push(`tunnel protocol negotiated: ${dev.info.protocol ?? 'unknown'}`);
    const devV1 = await startRole<{ protocol?: string }>('developer', { url: `ws://127.0.0.1:${sidecar.info.tunnelPort}/tunnel`, token: TOKEN_V1, target: `http://127.0.0.1:${laptop.info.port}`, subprotocols: ['detour-tunnel.v1'] });
    children.push(devV1 as Child);
    notes.push(`tunnel-v1 path: ${devV1.info.protocol ?? 'unknown'}`);
    const relay2 = await startRole<{ port: number }>('relay', { targetPort: laptop.info.port });
    const relay1 = await startRole<{ port: number }>('relay', { targetPort: relay2.info.port });
    children.push(relay2 as Child, relay1 as Child);

    // The tunnel is registered once the developer's HTTP/2 settings arrived: wait until a matching request reaches the laptop.
    const probeAgent = keepAliveAgent();
    for (let i = 0; ; i++) {
      const r = await timedRequest({ host: '127.0.0.1', port: sidecar.info.port, path: '/', headers: BENCH_USER }, probeAgent).catch(() => undefined);
      const r1 = await timedRequest({ host: '127.0.0.1', port: sidecar.info.port, path: '/', headers: BENCH_USER_V1 }, probeAgent).catch(() => undefined);
      if (r?.status === 200 && r1?.status === 200) break;
      if (i > 200) throw new Error('matching requests never reached the developer tunnel');
      await new Promise((res) => setTimeout(res, 25));
    }
    probeAgent.destroy();

    type Path = 'tunnel' | 'tunnel-v1' | 'relay';
    const ports: Record<Path, number> = { tunnel: sidecar.info.port, 'tunnel-v1': sidecar.info.port, relay: relay1.info.port };
    const userOf = (p: Path): Record<string, string> => (p === 'tunnel-v1' ? BENCH_USER_V1 : BENCH_USER);
    const target = (p: Path, path = '/api/items'): Target => ({ host: '127.0.0.1', port: ports[p], path, headers: userOf(p) });
    const throughput = (p: Path, seconds: number): Promise<ThroughputRun> => (tools.wrk
      ? wrk(tools.wrk, `http://127.0.0.1:${ports[p]}/api/items`, plan.connections, seconds, userOf(p))
      : closedLoop(target(p), plan.connections, seconds));
    const bulkPath = `/big?bytes=${plan.bulkBytes}`;
    const bulk = async (p: Path, repeat: number, untilMs: number): Promise<Child> => startRole('download', { port: ports[p], path: bulkPath, headers: userOf(p), repeat, untilMs });

    for (const p of ['tunnel', 'tunnel-v1', 'relay'] as Path[]) await throughput(p, 1); // warm-up
    const m = { tunnel: mk(), 'tunnel-v1': mk(), relay: mk() };
    for (let round = 0; round < plan.rounds; round++) {
      const all: Path[] = round % 2 === 0 ? ['tunnel', 'tunnel-v1', 'relay'] : ['relay', 'tunnel-v1', 'tunnel'];
      const order: Path[] = all.filter((p) => p !== 'tunnel-v1'); // the latency probes: v2 and the relay only
      for (const p of all) {
        const t = await throughput(p, plan.throughputSeconds);
        m[p].rps.push(t.rps);
        m[p].errors += t.errors;
      }
      for (const p of all) {
        const d = await bulk(p, 1, 0);
        const [res] = await waitResults(d);
        if (!res || res.bytes !== plan.bulkBytes) throw new Error(`bulk transfer over ${p} returned ${res?.bytes} bytes`);
        m[p].streamMBps.push(res.bytes / 1e6 / res.seconds);
      }
      for (const p of order) {
        const agent = keepAliveAgent();
        const idle = await fixedRate(target(p), plan.probeRate, plan.latencySeconds * 1000, agent);
        const d = await bulk(p, 50, plan.latencySeconds * 1000);
        await new Promise((r) => setTimeout(r, 200)); // let the transfer reach full speed
        const busy = await fixedRate(target(p), plan.probeRate, plan.latencySeconds * 1000, agent);
        const done = await waitResults(d);
        agent.destroy();
        m[p].idleP99.push(percentile(idle.latenciesMs, 99));
        m[p].busyP99.push(percentile(busy.latenciesMs, 99));
        m[p].idleP50.push(percentile(idle.latenciesMs, 50));
        m[p].busyP50.push(percentile(busy.latenciesMs, 50));
        m[p].errors += idle.errors + busy.errors;
        m[p].bulkDuringProbe.push(done.reduce((a, r) => a + r.bytes, 0));
      }
      log(`  tunnel round ${round + 1}/${plan.rounds}: ${all.map((p) => `${p} ${Math.round(m[p].rps[round]!)} req/s, ${m[p].streamMBps[round]!.toFixed(0)} MB/s${p === 'tunnel-v1' ? '' : `, 1 KB p99 idle ${m[p].idleP99[round]!.toFixed(2)} ms / busy ${m[p].busyP99[round]!.toFixed(2)} ms`}`).join('; ')}`);
    }

    const { figures, add } = figureList(section);
    for (const p of ['tunnel', 'tunnel-v1', 'relay'] as Path[]) {
      add(`${p} requests/s`, summarize(m[p].rps), 'req/s', `wrk -t1 -c${plan.connections}, 1 KB answers`);
      add(`${p} 100 MB stream`, summarize(m[p].streamMBps), 'MB/s');
      if (p !== 'tunnel-v1') add(`${p} 1 KB p99 idle / during 100 MB transfers`, summarize(m[p].idleP99), 'ms', `during: ${summarize(m[p].busyP99).median.toFixed(2)} ms (p50 ${summarize(m[p].idleP50).median.toFixed(2)} → ${summarize(m[p].busyP50).median.toFixed(2)} ms) at ${plan.probeRate}/s`);
    }
    const rps = ratioOf(m.tunnel.rps, m.relay.rps);
    add('requests/s: tunnel / raw relay', rps, 'x', undefined, goalAtLeast(rps.median, 0.5)); // issue #16 goal
    const stream = ratioOf(m.tunnel.streamMBps, m.relay.streamMBps);
    add('100 MB stream: tunnel / raw relay', stream, 'x', undefined, goalAtLeast(stream.median, 0.85));
    add('requests/s: tunnel v2 / v1 (what HTTP/1 as bytes bought)', ratioOf(m.tunnel.rps, m['tunnel-v1'].rps), 'x', 'same run, same sidecar, two developers');
    add('100 MB stream: tunnel v2 / v1', ratioOf(m.tunnel.streamMBps, m['tunnel-v1'].streamMBps), 'x');
    const hol = ratioOf(m.tunnel.busyP99, m.tunnel.idleP99);
    add('tunnel 1 KB p99: during bulk / idle', hol, 'x', 'same tunnel carries both', goalAtMost(hol.median, 2));
    add('relay 1 KB p99: during bulk / idle', ratioOf(m.relay.busyP99, m.relay.idleP99), 'x', 'separate TCP connections (reference)');
    notes.push(`errors: tunnel ${m.tunnel.errors}, tunnel-v1 ${m['tunnel-v1'].errors}, relay ${m.relay.errors}`);
    return { section, figures, notes, raw: m };
  } finally {
    for (const c of children.reverse()) await c.stop();
    await operator.close();
  }
}

function mk() {
  return { rps: [] as number[], streamMBps: [] as number[], idleP99: [] as number[], busyP99: [] as number[], idleP50: [] as number[], busyP50: [] as number[], bulkDuringProbe: [] as number[], errors: 0 };
}

/** Waits for a download child to exit; its RESULT lines. */
export async function waitResults(child: Child): Promise<Array<{ seconds: number; bytes: number }>> {
  if (child.proc.exitCode === null && child.proc.signalCode === null) await new Promise((r) => child.proc.once('exit', r));
  return child.lines.map((l) => JSON.parse(l) as { seconds: number; bytes: number });
}
