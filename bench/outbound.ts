// Item 7: outbound streams (#14): a local client → the CLI's `--forward` listener → the outbound
// tunnel (WebSocket + HTTP/2 CONNECT) → the sidecar → a TCP server in the "cluster", against a raw
// TCP relay with the same process layout (client → relay in the CLI's place → relay in the sidecar's
// place → the same server). The server is the bench's HTTP app; the outbound path carries its bytes
// as opaque TCP. Three loads, interleaved per round: requests/s over persistent connections (wrk
// keep-alive), new connections/s (wrk with `Connection: close`: one CONNECT stream, one DNS-free
// dial and one sidecar log line per request) and one 100 MB download.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RoutingTable } from '../core/routing/table.js';
import { OUTBOUND_PATH } from '../core/tunnel/outbound-protocol.js';
import { hashToken } from '../core/tunnel/protocol.js';
import type { Tools } from './ensure-tools.js';
import { goalAtLeast, figureList, type SectionResult } from './figures.js';
import { closedLoop, wrk, type ThroughputRun } from './load.js';
import { startSidecarProcess } from './passthrough.js';
import type { BenchPlan } from './plan.js';
import { profileArgs, startRole, type Child } from './processes.js';
import { ratioOf, summarize } from './stats.js';
import { startFakeOperator, waitResults } from './tunnel.js';

const TOKEN = 'bench-outbound-token-0123456789';
/** Connections of the new-connections load (each one a fresh TCP connection per request). */
const CLOSE_CONNECTIONS = 8;

type Path = 'outbound' | 'relay';

export async function benchOutbound(plan: BenchPlan, tools: Tools, log: (l: string) => void): Promise<SectionResult> {
  const section = '7 outbound';
  const notes: string[] = [];
  const children: Child[] = [];
  const table: RoutingTable = {
    version: 1, epoch: 'bench', workload: { kind: 'Deployment', namespace: 'bench', name: 'bench' },
    routes: [{ intercept: 'bench/run', port: 'http', mode: 'Outbound', fallback: 'App', tokenHash: hashToken(TOKEN) }],
  };
  const operator = await startFakeOperator(table);
  try {
    // The pod's own app (the sidecar needs one) and the "cluster Service" the laptop calls.
    const app = await startRole<{ port: number }>('app', { bodyBytes: 1024, name: 'pod-app' });
    children.push(app as Child);
    const service = await startRole<{ port: number }>('app', { bodyBytes: 1024, name: 'inventory' });
    children.push(service as Child);
    const dir = mkdtempSync(join(tmpdir(), 'detour-bench-'));
    writeFileSync(join(dir, 'token'), 'bench-projected-token');
    const sidecar = await startSidecarProcess(app.info.port, { DETOUR_OPERATOR_URL: operator.url, DETOUR_TOKEN_PATH: join(dir, 'token') });
    children.push(sidecar as Child);
    await operator.acked;
    const forward = await startRole<{ port: number }>('outbound-forward', {
      url: `ws://127.0.0.1:${sidecar.info.tunnelPort}${OUTBOUND_PATH}`, token: TOKEN, targetHost: '127.0.0.1', targetPort: service.info.port,
    }, { nodeArgs: profileArgs('outbound-forward') });
    children.push(forward as Child);
    const relay2 = await startRole<{ port: number }>('relay', { targetPort: service.info.port });
    const relay1 = await startRole<{ port: number }>('relay', { targetPort: relay2.info.port });
    children.push(relay2 as Child, relay1 as Child);

    const ports: Record<Path, number> = { outbound: forward.info.port, relay: relay1.info.port };
    const url = (p: Path, path = '/api/items'): string => `http://127.0.0.1:${ports[p]}${path}`;
    const requests = (p: Path, seconds: number): Promise<ThroughputRun> => (tools.wrk
      ? wrk(tools.wrk, url(p), plan.connections, seconds)
      : closedLoop({ host: '127.0.0.1', port: ports[p], path: '/api/items' }, plan.connections, seconds));
    const newConnections = (p: Path, seconds: number): Promise<ThroughputRun> => (tools.wrk
      ? wrk(tools.wrk, url(p), CLOSE_CONNECTIONS, seconds, { connection: 'close' })
      : closedLoop({ host: '127.0.0.1', port: ports[p], path: '/api/items', headers: { connection: 'close' } }, CLOSE_CONNECTIONS, seconds));

    for (const p of ['outbound', 'relay'] as Path[]) await requests(p, 1); // warm-up (and the tunnel carries streams)
    const m = { outbound: mk(), relay: mk() };
    for (let round = 0; round < plan.rounds; round++) {
      const order: Path[] = round % 2 === 0 ? ['outbound', 'relay'] : ['relay', 'outbound'];
      for (const p of order) {
        const t = await requests(p, plan.throughputSeconds);
        m[p].rps.push(t.rps);
        m[p].errors += t.errors;
      }
      for (const p of order) {
        const t = await newConnections(p, plan.throughputSeconds);
        m[p].cps.push(t.rps);
        m[p].errors += t.errors;
      }
      for (const p of order) {
        const d = await startRole('download', { port: ports[p], path: `/big?bytes=${plan.bulkBytes}`, repeat: 1, untilMs: 0 });
        const [res] = await waitResults(d);
        if (!res || res.bytes !== plan.bulkBytes) throw new Error(`100 MB download over ${p} returned ${res?.bytes} bytes`);
        m[p].streamMBps.push(res.bytes / 1e6 / res.seconds);
      }
      log(`  outbound round ${round + 1}/${plan.rounds}: ${order.map((p) => `${p} ${Math.round(m[p].rps[round]!)} req/s, ${Math.round(m[p].cps[round]!)} conn/s, ${m[p].streamMBps[round]!.toFixed(0)} MB/s`).join('; ')}`);
    }

    const { figures, add } = figureList(section);
    for (const p of ['outbound', 'relay'] as Path[]) {
      add(`${p} requests/s (persistent connections)`, summarize(m[p].rps), 'req/s', `${tools.wrk ? 'wrk -t1' : 'node closed loop'} -c${plan.connections} keep-alive, 1 KB answers`);
      add(`${p} new connections/s`, summarize(m[p].cps), 'conn/s', `-c${CLOSE_CONNECTIONS}, one request per connection (Connection: close)`);
      add(`${p} 100 MB download`, summarize(m[p].streamMBps), 'MB/s', 'one connection');
    }
    const rps = ratioOf(m.outbound.rps, m.relay.rps);
    add('requests/s: outbound / raw relay', rps, 'x', 'persistent connections', goalAtLeast(rps.median, 0.5));
    const cps = ratioOf(m.outbound.cps, m.relay.cps);
    add('new connections/s: outbound / raw relay', cps, 'x', 'a CONNECT stream + a dial in the pod per connection', goalAtLeast(cps.median, 0.5));
    const stream = ratioOf(m.outbound.streamMBps, m.relay.streamMBps);
    add('100 MB download: outbound / raw relay', stream, 'x', undefined, goalAtLeast(stream.median, 0.85));
    notes.push(`errors: outbound ${m.outbound.errors}, relay ${m.relay.errors}`);
    return { section, figures, notes, raw: m };
  } finally {
    for (const c of children.reverse()) await c.stop();
    await operator.close();
  }
}

function mk() {
  return { rps: [] as number[], cps: [] as number[], streamMBps: [] as number[], errors: 0 };
}
