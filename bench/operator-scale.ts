// Item 5 (child process, one size per process so memory figures are clean): the operator's
// Intercept controller as the product builds it (`buildInterceptController`, the same builder
// operator/operator.ts runs while leading) against the in-memory API server of
// test/fixtures/memory-api.ts: lists and watches are served from maps, writes are answered at once
// and (with `echo`) echoed back as watch events. Connected sidecars are played by in-memory
// connections that acknowledge every table. So the figure is the operator's own CPU and memory for
// N Intercepts; API latency is not in it.

import { randomUUID } from 'node:crypto';
import { API_GROUP, API_VERSION, INJECT_LABEL, INTERCEPT_PLURAL, SIDECAR_CONTAINER } from '../core/constants.js';
import { interceptKey } from '../core/api/intercept.js';
import { buildLogger } from '../core/logging.js';
import type { WorkloadRef } from '../core/workload-ref.js';
import { ControlHub, type SidecarConnection } from '../operator/control/hub.js';
import { buildInterceptController } from '../operator/reconcile/intercept-controller.js';
import { Fanout } from '../operator/runtime/fanout.js';
import { MemoryApi, type MemoryObject } from '../test/fixtures/memory-api.js';
import type { ScaleResult } from './operator.js';

interface Config { capMs?: number; n?: number; perWorkload?: number; replicas?: number; namespaces?: number; echo?: boolean }

function makeWorld(api: MemoryApi, n: number, perWorkload: number, replicas: number, namespaces: number): WorkloadRef[] {
  const workloads = Math.ceil(n / perWorkload);
  const refs: WorkloadRef[] = [];
  const created = new Date(Date.now() - 60_000).toISOString();
  for (let w = 0; w < workloads; w++) {
    const ns = `team-${w % namespaces}`;
    const name = `svc-${w}`;
    refs.push({ kind: 'Deployment', namespace: ns, name });
    const template = { metadata: { labels: { app: name, [INJECT_LABEL]: 'true' } }, spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] } };
    api.put('/apis/apps/v1/deployments', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, uid: randomUUID(), generation: 1 }, spec: { replicas, selector: { matchLabels: { app: name } }, template } });
    for (let r = 0; r < replicas; r++) {
      api.put('/api/v1/pods', {
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name: `${name}-${r}`, namespace: ns, uid: randomUUID(), labels: { app: name } },
        spec: { containers: [{ name: 'app', ports: [{ name: 'dt-http', containerPort: 8080 }] }], initContainers: [{ name: SIDECAR_CONTAINER, ports: [{ name: 'http', containerPort: 15006 }] }] },
        status: { phase: 'Running' },
      });
    }
    for (let j = 0; j < perWorkload && w * perWorkload + j < n; j++) {
      const user = `dev-${w}-${j}`;
      api.put(`/apis/${API_GROUP}/${API_VERSION}/${INTERCEPT_PLURAL}`, {
        apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Intercept',
        metadata: { name: `${user}-${name}`, namespace: ns, uid: randomUUID(), generation: 1, creationTimestamp: created },
        spec: { workload: { kind: 'Deployment', name }, port: 'http', match: { headers: [{ name: 'x-detour-user', exact: user }] }, mode: 'Steal', fallback: 'App', owner: `${user}@example.com` },
      } satisfies MemoryObject);
    }
  }
  return refs;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** One run at one size; resolves with the figures bench/operator.ts reads (its ScaleResult). */
export async function measureOperatorScale(c: Config): Promise<ScaleResult> {
  const n = c.n ?? 1000;
  const perWorkload = c.perWorkload ?? 10;
  const replicas = c.replicas ?? 2;
  const api = new MemoryApi();
  const refs = makeWorld(api, n, perWorkload, replicas, c.namespaces ?? 10);
  api.echo = c.echo ?? true;
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const rssBefore = process.memoryUsage().rss;

  // ---- the controller, built by the operator's own builder ----
  const logger = buildLogger({ name: 'bench-operator', level: 'silent' });
  const hubChanges = new Fanout<WorkloadRef>();
  const hub = new ControlHub(hubChanges.emit);
  hub.reset('bench');
  const { controller, intercepts } = buildInterceptController({ client: api, hub, hubChanges, logger, now: () => new Date(), identity: 'bench', workers: 4, resyncMs: 0 });
  // Sidecars: `replicas` per workload, each acknowledging every table it gets (as the real one does).
  let pendingAcks = 0;
  let tablesSent = 0;
  let nextId = 1;
  const connect = (w: WorkloadRef, pod: string): void => {
    const conn: SidecarConnection = {
      id: nextId++, pod, workload: w, report: {},
      send: (msg) => { tablesSent++; pendingAcks++; setImmediate(() => { pendingAcks--; hub.ack(conn, msg.table.epoch, msg.table.version); }); },
      close: () => undefined,
    };
    hub.add(conn);
  };

  const deadline = performance.now() + (c.capMs ?? 600_000);
  /** Waits until nothing is queued, running or in flight; false when the time cap came first. */
  const quiet = async (): Promise<boolean> => {
    for (let idle = 0; idle < 3;) {
      await new Promise((r) => setImmediate(r));
      if (performance.now() > deadline) return false;
      if (controller.idle() && api.pendingEvents === 0 && pendingAcks === 0) idle++;
      else idle = 0;
    }
    return true;
  };

  const reconciles = (): number => Object.values(controller.counts).reduce((a, b) => a + b, 0);
  const t0 = performance.now();
  controller.start();
  await controller.synced();
  hub.startPublishing();
  for (const w of refs) for (let r = 0; r < replicas; r++) connect(w, `${w.name}-${r}`);
  const finished = await quiet();
  const coldMs = performance.now() - t0;
  const coldReconciles = reconciles();
  const coldCalls = { ...api.calls };
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  const rssAfter = process.memoryUsage().rss;

  // A resync: every Intercept looked at again with nothing changed (what the informer's periodic resync does).
  const routed = refs.reduce((a, w) => a + hub.table(w).routes.length, 0);
  let warmMs = NaN;
  if (finished) {
    const t1 = performance.now();
    for (const i of intercepts.list()) controller.enqueue(interceptKey(i));
    await quiet();
    warmMs = performance.now() - t1;
  }
  const warmReconciles = reconciles() - coldReconciles;

  await controller.stop();
  const { error: errors, conflict: conflicts } = controller.counts;
  return {
    n, echo: api.echo, finished, cpuSeconds: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6, perWorkload, replicas, workloads: refs.length, routed, coldMs, warmMs, coldReconciles, warmReconciles, errors, conflicts, tablesSent,
    operatorHeapBytes: heapAfter - heapBefore, rssBytes: rssAfter, rssDeltaBytes: rssAfter - rssBefore, apiCalls: coldCalls,
  };
}

export async function runOperatorScale(c: Config, result: (r: unknown) => void): Promise<void> {
  result(await measureOperatorScale(c));
  process.exit(0);
}
