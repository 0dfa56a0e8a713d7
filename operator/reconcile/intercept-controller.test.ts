// The Intercept controller as the operator builds it (buildInterceptController), driven against the
// in-memory API: what a user would see in the API — the token Secret, the route a sidecar gets,
// status, finalizer, Events — after the controller settles. Time that matters (the 409 requeue) is
// fake; nothing waits on the wall clock.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { FINALIZER, INJECT_LABEL, SIDECAR_CONTAINER } from '../../core/constants.js';
import type { Intercept } from '../../core/api/intercept.js';
import { buildLogger } from '../../core/logging.js';
import type { WorkloadRef } from '../../core/workload-ref.js';
import { FakeTimers, settle } from '../../test/fixtures/fake-timers.js';
import { MemoryApi, type MemoryObject } from '../../test/fixtures/memory-api.js';
import { ControlHub, type SidecarConnection } from '../control/hub.js';
import { Fanout } from '../runtime/fanout.js';
import { buildInterceptController, type InterceptController } from './intercept-controller.js';

const INTERCEPTS = '/apis/detour.dev/v1alpha1/intercepts';
const DEPLOYMENTS = '/apis/apps/v1/deployments';
const PODS = '/api/v1/pods';
const SECRETS = '/api/v1/secrets';
const checkout: WorkloadRef = { kind: 'Deployment', namespace: 'shop', name: 'checkout' };
const logger = buildLogger({ name: 'test', level: 'silent' });
const now = new Date('2026-01-01T12:00:00Z');
let running: InterceptController | undefined;

afterEach(async () => {
  await running?.controller.stop();
  running = undefined;
});

function deployment(optedIn = true): MemoryObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'checkout', namespace: 'shop', uid: 'd-1', generation: 1 },
    spec: { replicas: 2, selector: { matchLabels: { app: 'checkout' } }, template: { metadata: { labels: { app: 'checkout', ...(optedIn ? { [INJECT_LABEL]: 'true' } : {}) } }, spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] } } },
  };
}

function pod(name: string, sidecar = true): MemoryObject {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop', uid: `uid-${name}`, labels: { app: 'checkout' } },
    spec: { containers: [{ name: 'app', ports: [{ name: sidecar ? 'dt-http' : 'http', containerPort: 8080 }] }], ...(sidecar ? { initContainers: [{ name: SIDECAR_CONTAINER, ports: [{ name: 'http', containerPort: 15006 }] }] } : {}) },
    status: { phase: 'Running' },
  };
}

function intercept(name: string, user: string, createdAt = '2026-01-01T11:00:00Z'): MemoryObject {
  return {
    apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept',
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, generation: 1, creationTimestamp: createdAt },
    spec: { workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', match: { headers: [{ name: 'x-detour-user', exact: user }] }, mode: 'Steal', fallback: 'App' },
  };
}

function world(objects: { deployment?: MemoryObject; pods?: MemoryObject[]; intercepts?: MemoryObject[] } = {}) {
  const api = new MemoryApi();
  api.keepEvents = true;
  api.put(DEPLOYMENTS, objects.deployment ?? deployment());
  for (const p of objects.pods ?? [pod('checkout-0'), pod('checkout-1')]) api.put(PODS, p);
  for (const i of objects.intercepts ?? [intercept('alice-checkout', 'alice')]) api.put(INTERCEPTS, i);
  const timers = new FakeTimers(now.getTime());
  const hubChanges = new Fanout<WorkloadRef>();
  const hub = new ControlHub(hubChanges.emit);
  hub.reset('1.test');
  hub.startPublishing();
  const c = buildInterceptController({ client: api, hub, hubChanges, logger, now: () => new Date(timers.now()), identity: 'op-test', workers: 2, timers });
  running = c;
  /** Lets the controller and the echoed watch events run until nothing is left to do now. */
  const quiet = async () => {
    for (let idle = 0; idle < 3;) {
      await settle(5);
      idle = c.controller.idle() && api.pendingEvents === 0 ? idle + 1 : 0;
    }
  };
  const get = (name: string) => api.get<Intercept>(INTERCEPTS, 'shop', name)!;
  const condition = (name: string, type: string) => get(name).status?.conditions?.find((x) => x.type === type);
  const reasons = () => api.events.map((e) => (e as { reason?: string }).reason);
  const token = (name: string) => {
    const s = api.get<{ data: { token: string }; metadata: { ownerReferences?: Array<{ uid: string }>; labels?: Record<string, string> } }>(SECRETS, 'shop', `${name}-detour-token`);
    return s && { value: Buffer.from(s.data.token, 'base64').toString('utf8'), secret: s };
  };
  const start = async () => { c.controller.start(); await quiet(); };
  return { api, hub, timers, c, quiet, get, condition, reasons, token, start };
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('the Intercept controller (buildInterceptController against the in-memory API)', () => {
  it('mints the token, routes with its hash, adds the finalizer and writes status', async () => {
    const w = world();
    await w.start();
    const token = w.token('alice-checkout');
    expect(token).toBeDefined();
    expect(token!.secret.metadata.ownerReferences?.[0]?.uid).toBe('uid-alice-checkout');
    expect(token!.value.length).toBeGreaterThanOrEqual(43);
    const routes = w.hub.table(checkout).routes;
    expect(routes).toHaveLength(1);
    expect(routes[0]).toMatchObject({ intercept: 'shop/alice-checkout', port: 'http', mode: 'Steal', tokenHash: sha256(token!.value), createdAt: '2026-01-01T11:00:00Z' });
    const i = w.get('alice-checkout');
    expect(i.metadata.finalizers).toContain(FINALIZER);
    expect(i.status).toMatchObject({ phase: 'Pending', observedGeneration: 1, tokenSecretName: 'alice-checkout-detour-token', sidecars: { ready: 0, desired: 2 } });
    expect(w.condition('alice-checkout', 'Routed')).toMatchObject({ status: 'True', reason: 'Routed' });
    expect(w.reasons()).toEqual(expect.arrayContaining(['TokenMinted', 'Pending']));
  });

  it('goes Active when a sidecar of the workload acknowledges the table (the hub re-queues it)', async () => {
    const w = world();
    await w.start();
    const conn: SidecarConnection = { id: 1, pod: 'checkout-0', workload: checkout, report: {}, send: (msg) => setImmediate(() => w.hub.ack(conn, msg.table.epoch, msg.table.version)), close: () => undefined };
    w.hub.add(conn);
    await w.quiet();
    expect(w.get('alice-checkout').status).toMatchObject({ phase: 'Active', sidecars: { ready: 1, desired: 2 } });
    expect(w.condition('alice-checkout', 'SidecarsReady')).toMatchObject({ status: 'False', reason: 'SidecarsConnecting' });
  });

  it('routes only the older of two Steal intercepts that match the same requests; the newer is Conflict', async () => {
    const w = world({ intercepts: [intercept('alice-checkout', 'alice', '2026-01-01T10:00:00Z'), intercept('alice-again', 'alice', '2026-01-01T11:00:00Z')] });
    await w.start();
    expect(w.get('alice-checkout').status?.phase).toBe('Pending');
    expect(w.get('alice-again').status?.phase).toBe('Conflict');
    expect(w.condition('alice-again', 'Routed')?.message).toContain('shop/alice-checkout');
    expect(w.hub.table(checkout).routes.map((r) => r.intercept)).toEqual(['shop/alice-checkout']);
  });

  it('opts a workload without the label in, and says so', async () => {
    const w = world({ deployment: deployment(false) });
    await w.start();
    const d = w.api.get<{ spec: { template: { metadata: { labels: Record<string, string> } } } }>(DEPLOYMENTS, 'shop', 'checkout')!;
    expect(d.spec.template.metadata.labels[INJECT_LABEL]).toBe('true');
    expect(w.reasons()).toContain('OptedIn');
  });

  it('does not retry a 403 (terminal), and tells the Intercept with a Warning Event', async () => {
    const w = world({ deployment: deployment(false) });
    w.api.failNext('PATCH', '/deployments/checkout', 403, 100);
    await w.start();
    // Our own writes (Secret, finalizer) come back as events and re-queue it; time alone does not.
    const patches = w.api.calls['PATCH /apis/apps/v1/namespaces/*/deployments/*'];
    await w.timers.advance(60 * 60_000);
    await w.quiet();
    expect(w.api.calls['PATCH /apis/apps/v1/namespaces/*/deployments/*']).toBe(patches);
    expect(w.c.controller.counts.terminal).toBe(patches);
    expect(w.c.controller.counts.error).toBe(0);
    const warning = w.api.events.find((e) => (e as { reason?: string }).reason === 'ReconcileFailed') as { type: string; message: string; involvedObject: { name: string } } | undefined;
    expect(warning).toMatchObject({ type: 'Warning', involvedObject: { name: 'alice-checkout' } });
    expect(warning!.message).toContain('403');
  });

  it('detects a 409 on the status write and writes status after the conflict requeue', async () => {
    const w = world();
    w.api.failNext('PUT', '/intercepts/alice-checkout/status', 409, 1);
    await w.start();
    expect(w.c.controller.counts.conflict).toBeGreaterThanOrEqual(1);
    await w.timers.advance(1000);
    await w.quiet();
    expect(w.get('alice-checkout').status?.phase).toBe('Pending');
  });

  it('reads pods from the informer: a pod without the sidecar shows, and its replacement clears it, with one pod LIST in all', async () => {
    const w = world({ pods: [pod('checkout-0'), pod('checkout-old', false)] });
    await w.start();
    expect(w.condition('alice-checkout', 'SidecarsReady')).toMatchObject({ status: 'False', reason: 'SidecarMissing' });
    expect(w.condition('alice-checkout', 'SidecarsReady')?.message).toContain('checkout-old');
    w.api.remove(PODS, 'shop', 'checkout-old');
    w.api.put(PODS, pod('checkout-1'));
    await w.quiet();
    expect(w.condition('alice-checkout', 'SidecarsReady')?.reason).toBe('SidecarsConnecting');
    expect(w.api.calls['GET /api/v1/pods']).toBe(1);
  });

  it('mints a new token when its Secret is deleted, and the route carries the new hash', async () => {
    const w = world();
    await w.start();
    const first = w.token('alice-checkout')!.value;
    w.api.remove(SECRETS, 'shop', 'alice-checkout-detour-token');
    await w.quiet();
    const second = w.token('alice-checkout')!.value;
    expect(second).not.toBe(first);
    expect(w.hub.table(checkout).routes[0]?.tokenHash).toBe(sha256(second));
  });

  it('withdraws the route and removes the finalizer of a deleted Intercept', async () => {
    const w = world();
    await w.start();
    const i = w.api.get<MemoryObject>(INTERCEPTS, 'shop', 'alice-checkout')!;
    w.api.put(INTERCEPTS, { ...i, metadata: { ...i.metadata, deletionTimestamp: '2026-01-01T12:00:01Z' } });
    await w.quiet();
    expect(w.hub.table(checkout).routes).toEqual([]);
    expect(w.get('alice-checkout').metadata.finalizers ?? []).not.toContain(FINALIZER);
  });
});
