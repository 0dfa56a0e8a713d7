// Item 5 (child process, one size per process so memory figures are clean): the operator's
// controller — the real Informers, WorkQueue, runWorkers, InterceptReconciler and ControlHub, wired
// as operator/operator.ts wires them — against an in-memory API server: lists and watches are served
// from arrays, writes are answered at once and echoed back as watch events (asynchronously, like a
// real API server). Connected sidecars are played by in-memory connections that acknowledge every
// table. So the figure is the operator's own CPU and memory for N Intercepts; API latency is not in it.

import { randomUUID } from 'node:crypto';
import { API_GROUP, API_VERSION, INJECT_LABEL, INTERCEPT_NAME_LABEL, INTERCEPT_PLURAL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, SIDECAR_CONTAINER } from '../core/constants.js';
import { interceptKey, type Intercept } from '../core/api/intercept.js';
import { buildLogger } from '../core/logging.js';
import type { WorkloadRef } from '../core/routing/table.js';
import { ControlHub, type SidecarConnection } from '../operator/control/hub.js';
import { buildEventRecorder } from '../operator/events.js';
import { KubeApiError, resourcePath, type KubeClient, type RequestInput } from '../core/kube/client.js';
import { InterceptReconciler, type Secret } from '../operator/reconcile/reconciler.js';
import { interceptIndexers, planInterceptEnqueue, WORKLOAD_INDEX, workloadIndexKey } from '../operator/reconcile/enqueue.js';
import type { Pod, Workload } from '../operator/reconcile/workload.js';
import { Informer, type KubeObject } from '../operator/runtime/informer.js';
import { runWorkers, WorkQueue } from '../operator/runtime/workqueue.js';

interface Config { capMs?: number; n?: number; perWorkload?: number; replicas?: number; namespaces?: number; echo?: boolean }

type Obj = KubeObject & { metadata: KubeObject['metadata'] & { resourceVersion?: string; labels?: Record<string, string> } };

/** Just enough of an API server, in memory. */
class MemoryApi implements KubeClient {
  readonly collections = new Map<string, Map<string, Obj>>();
  readonly pods = new Map<string, Pod[]>();
  private readonly watchers = new Map<string, Set<(o: unknown) => void>>();
  private rv = 1;
  pendingEvents = 0;
  calls: Record<string, number> = {};
  /** Whether writes come back as watch events (and stale writes conflict), as with a real API server. */
  echo = true;

  put(collection: string, o: Obj): void {
    let c = this.collections.get(collection);
    if (!c) this.collections.set(collection, (c = new Map()));
    o.metadata.resourceVersion = String(++this.rv);
    const key = `${o.metadata.namespace}/${o.metadata.name}`;
    const existed = c.has(key);
    c.set(key, o);
    this.emit(collection, { type: existed ? 'MODIFIED' : 'ADDED', object: o });
  }

  private emit(collection: string, ev: unknown): void {
    const subs = this.watchers.get(collection);
    if (!this.echo || !subs || subs.size === 0) return;
    this.pendingEvents++;
    setImmediate(() => {
      this.pendingEvents--;
      for (const s of subs) s(structuredClone(ev));
    });
  }

  async request<T = unknown>(method: string, path: string, input: RequestInput = {}): Promise<T> {
    const verb = `${method} ${path.replace(/\/namespaces\/[^/]+/, '/namespaces/*').replace(/\/(intercepts|secrets|events)\/[^/]+/, '/$1/*')}`;
    this.calls[verb] = (this.calls[verb] ?? 0) + 1;
    const m = /^\/(?:api|apis\/[^/]+)\/[^/]+(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?(?:\/(status))?$/.exec(path);
    if (!m) throw new KubeApiError(404, 'not found', method, path);
    const [, ns, plural, name] = m;
    const collection = path.startsWith('/api/') ? `/api/v1/${plural}` : `/apis/${path.split('/')[2]}/${path.split('/')[3]}/${plural}`;
    if (method === 'GET' && plural === 'pods') {
      const sel = String(input.query?.labelSelector ?? '');
      return { items: this.pods.get(`${ns}/${sel}`) ?? [] } as T;
    }
    const c = this.collections.get(collection) ?? new Map<string, Obj>();
    if (method === 'GET' && !name) {
      const sel = input.query?.labelSelector ? String(input.query.labelSelector).split('=') : undefined;
      const items = [...c.values()].filter((o) => !sel || o.metadata.labels?.[sel[0]!] === sel[1]);
      return structuredClone({ items, metadata: { resourceVersion: String(this.rv) } }) as T;
    }
    const key = `${ns}/${name}`;
    if (method === 'GET') {
      const o = c.get(key);
      if (!o) throw new KubeApiError(404, 'not found', method, path);
      return structuredClone(o) as T;
    }
    // Optimistic concurrency as the API server does it: a stale resourceVersion is a 409 Conflict.
    const conflict = (): void => { if (this.echo) throw new KubeApiError(409, 'conflict', method, path); };
    if (method === 'POST') {
      const body = structuredClone(input.body) as Obj;
      if (plural !== 'events' && c.has(`${body.metadata.namespace}/${body.metadata.name}`)) conflict();
      if (plural !== 'events') this.put(collection, body);
      return body as T;
    }
    if (method === 'PATCH') {
      const o = c.get(key);
      if (!o) throw new KubeApiError(404, 'not found', method, path);
      const next = structuredClone(o) as Obj & { metadata: { finalizers?: string[] }; spec: { template?: { metadata?: { labels?: Record<string, string> } } } };
      const body = input.body as { metadata?: { finalizers?: string[] } } | Array<{ op: string; path: string; value: unknown }>;
      if (Array.isArray(body)) {
        for (const op of body) {
          if (op.op === 'test' && op.path === '/metadata/finalizers' && JSON.stringify(op.value) !== JSON.stringify(next.metadata.finalizers)) conflict();
          if (op.op === 'replace' && op.path === '/metadata/finalizers') next.metadata.finalizers = op.value as string[];
        }
      } else {
        const want = (body.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
        if (want !== undefined && want !== o.metadata.resourceVersion) conflict();
        if (body.metadata?.finalizers) next.metadata.finalizers = body.metadata.finalizers;
      }
      this.put(collection, next);
      return structuredClone(next) as T;
    }
    if (method === 'PUT') {
      const body = structuredClone(input.body) as Obj;
      const o = c.get(key);
      if (!o) throw new KubeApiError(404, 'not found', method, path);
      if (body.metadata.resourceVersion !== undefined && body.metadata.resourceVersion !== o.metadata.resourceVersion) conflict();
      if (m[4] === 'status') Object.assign(body, { spec: (o as unknown as { spec: unknown }).spec, metadata: { ...o.metadata } });
      this.put(collection, body);
      return body as T;
    }
    if (method === 'DELETE') {
      c.delete(key);
      return {} as T;
    }
    throw new KubeApiError(405, 'method not allowed', method, path);
  }

  stream(path: string, _query: RequestInput['query'], onObject: (obj: unknown) => void, signal: AbortSignal): Promise<void> {
    let subs = this.watchers.get(path);
    if (!subs) this.watchers.set(path, (subs = new Set()));
    subs.add(onObject);
    return new Promise((resolve) => signal.addEventListener('abort', () => { subs.delete(onObject); resolve(); }, { once: true }));
  }

  close(): void { /* nothing */ }
}

function makeWorld(api: MemoryApi, n: number, perWorkload: number, replicas: number, namespaces: number): WorkloadRef[] {
  const workloads = Math.ceil(n / perWorkload);
  const refs: WorkloadRef[] = [];
  const created = new Date(Date.now() - 60_000).toISOString();
  for (let w = 0; w < workloads; w++) {
    const ns = `team-${w % namespaces}`;
    const name = `svc-${w}`;
    refs.push({ kind: 'Deployment', namespace: ns, name });
    const template = { metadata: { labels: { app: name, [INJECT_LABEL]: 'true' } }, spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] } };
    api.put('/apis/apps/v1/deployments', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, uid: randomUUID(), generation: 1 }, spec: { replicas, selector: { matchLabels: { app: name } }, template } } as unknown as Obj);
    api.pods.set(`${ns}/app=${name}`, Array.from({ length: replicas }, (_, r) => ({
      metadata: { name: `${name}-${r}`, namespace: ns, uid: randomUUID(), labels: { app: name } },
      spec: { containers: [{ name: 'app', ports: [{ name: 'dt-http', containerPort: 8080 }] }], initContainers: [{ name: SIDECAR_CONTAINER, ports: [{ name: 'http', containerPort: 15006 }] }] },
      status: { phase: 'Running' },
    })));
    for (let j = 0; j < perWorkload && w * perWorkload + j < n; j++) {
      const user = `dev-${w}-${j}`;
      api.put(`/apis/${API_GROUP}/${API_VERSION}/${INTERCEPT_PLURAL}`, {
        apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Intercept',
        metadata: { name: `${user}-${name}`, namespace: ns, uid: randomUUID(), generation: 1, creationTimestamp: created },
        spec: { workload: { kind: 'Deployment', name }, port: 'http', match: { headers: [{ name: 'x-detour-user', exact: user }] }, mode: 'Steal', fallback: 'App', owner: `${user}@example.com` },
      } as unknown as Obj);
    }
  }
  return refs;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export async function runOperatorScale(c: Config, result: (r: unknown) => void): Promise<void> {
  const n = c.n ?? 1000;
  const perWorkload = c.perWorkload ?? 10;
  const replicas = c.replicas ?? 2;
  const api = new MemoryApi();
  const refs = makeWorld(api, n, perWorkload, replicas, c.namespaces ?? 10);
  api.echo = c.echo ?? true;
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const rssBefore = process.memoryUsage().rss;

  // ---- the controller, as operator/operator.ts startController wires it ----
  const logger = buildLogger({ name: 'bench-operator', level: 'silent' });
  let enqueueWorkload: (w: WorkloadRef) => void = () => undefined;
  const hub = new ControlHub((w) => enqueueWorkload(w));
  hub.reset('bench');
  const queue = new WorkQueue({});
  const add = (key: string): void => queue.add(key);
  const common = { client: api, logger, resyncMs: 0 };
  const siblingsOf = (workloadKey: string): Intercept[] => intercepts.byIndex(WORKLOAD_INDEX, workloadKey);
  const enqueueIntercepts = (old: Intercept | undefined, cur: Intercept | undefined): void => {
    for (const key of planInterceptEnqueue(old, cur, siblingsOf)) add(key);
  };
  enqueueWorkload = (w) => {
    for (const s of siblingsOf(workloadIndexKey(w))) add(interceptKey(s));
  };
  const intercepts: Informer<Intercept> = new Informer<Intercept>({
    ...common, name: 'intercepts', path: resourcePath(API_GROUP, API_VERSION, INTERCEPT_PLURAL), indexers: interceptIndexers,
    handlers: { onAdd: (i) => enqueueIntercepts(undefined, i), onUpdate: (old, cur) => enqueueIntercepts(old, cur), onDelete: (i) => enqueueIntercepts(i, undefined) },
  });
  const workloadInformer = (kind: Workload['kind'], plural: string): Informer<Workload> => new Informer<Workload>({
    ...common, name: plural, path: resourcePath('apps', 'v1', plural),
    handlers: {
      onAdd: (w) => enqueueWorkload({ kind, namespace: w.metadata.namespace!, name: w.metadata.name }),
      onUpdate: (_o, w) => enqueueWorkload({ kind, namespace: w.metadata.namespace!, name: w.metadata.name }),
      onDelete: (w) => enqueueWorkload({ kind, namespace: w.metadata.namespace!, name: w.metadata.name }),
    },
  });
  const workloads = { Deployment: workloadInformer('Deployment', 'deployments'), StatefulSet: workloadInformer('StatefulSet', 'statefulsets'), ReplicaSet: workloadInformer('ReplicaSet', 'replicasets') };
  const onSecret = (s: Secret): void => { const owner = s.metadata.labels?.[INTERCEPT_NAME_LABEL]; if (owner) add(`${s.metadata.namespace}/${owner}`); };
  const secrets = new Informer<Secret>({ ...common, name: 'secrets', path: resourcePath('', 'v1', 'secrets'), labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`, handlers: { onAdd: onSecret, onUpdate: (_o, s) => onSecret(s), onDelete: onSecret } });
  const informers = [intercepts, workloads.Deployment, workloads.StatefulSet, workloads.ReplicaSet, secrets];
  const reconciler = new InterceptReconciler({ client: api, intercepts, workloads, secrets, hub, record: buildEventRecorder(api, 'bench', logger), logger, now: () => new Date() });
  let inflight = 0;
  let reconciles = 0;
  let errors = 0;
  let conflicts = 0;
  const process_ = async (key: string): Promise<void> => {
    inflight++;
    reconciles++;
    try {
      const r = await reconciler.reconcile(key);
      queue.forget(key);
      if (r.requeueAfterMs !== undefined) queue.addAfter(key, r.requeueAfterMs);
    } catch (err) {
      // As operator/operator.ts: a 409 is requeued after a fixed delay (the echoed watch event
      // normally re-queues it first), anything else with per-key backoff.
      if (err instanceof KubeApiError && err.code === 409) {
        conflicts++;
        queue.forget(key);
        queue.addAfter(key, 1000);
      } else {
        errors++;
        queue.addRateLimited(key);
      }
    } finally {
      inflight--;
    }
  };
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
      if (queue.len() === 0 && inflight === 0 && api.pendingEvents === 0 && pendingAcks === 0) idle++;
      else idle = 0;
    }
    return true;
  };

  const t0 = performance.now();
  for (const inf of informers) inf.start();
  await Promise.all(informers.map((i) => i.waitForSync()));
  const workers = runWorkers(queue, 4, process_);
  hub.startPublishing();
  for (const w of refs) for (let r = 0; r < replicas; r++) connect(w, `${w.name}-${r}`);
  const finished = await quiet();
  const coldMs = performance.now() - t0;
  const coldReconciles = reconciles;
  const coldCalls = { ...api.calls };
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  const rssAfter = process.memoryUsage().rss;

  // A resync: every Intercept looked at again with nothing changed (what the informer's periodic resync does).
  const routed = refs.reduce((a, w) => a + hub.table(w).routes.length, 0);
  let warmMs = NaN;
  if (finished) {
    const t1 = performance.now();
    reconciles = 0;
    for (const i of intercepts.list()) add(interceptKey(i));
    await quiet();
    warmMs = performance.now() - t1;
  }

  queue.shutDown();
  await Promise.all(informers.map((i) => i.stop()));
  await workers;
  result({
    n, echo: api.echo, finished, cpuSeconds: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6, perWorkload, replicas, workloads: refs.length, routed, coldMs, warmMs, coldReconciles, warmReconciles: reconciles, errors, conflicts, tablesSent,
    operatorHeapBytes: heapAfter - heapBefore, rssBytes: rssAfter, rssDeltaBytes: rssAfter - rssBefore, apiCalls: coldCalls,
  });
  process.exit(0);
}
