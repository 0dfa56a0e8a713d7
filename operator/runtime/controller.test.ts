// The controller's handling of results and errors, with a scripted reconciler, fake time and a
// real prom-client registry (the metric names are what dashboards read).
import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { KubeApiError } from '../../core/kube/client.js';
import { buildLogger } from '../../core/logging.js';
import { FakeTimers, settle } from '../../test/fixtures/fake-timers.js';
import { classifyReconcileError, Controller, type Result } from './controller.js';
import { buildRuntimeMetrics, workqueueHooks } from './metrics.js';
import { WorkQueue } from './workqueue.js';

const logger = buildLogger({ name: 'test', level: 'silent' });
const apiError = (code: number) => new KubeApiError(code, JSON.stringify({ kind: 'Status', code, reason: `R${code}` }), 'PUT', '/x');

describe('classifyReconcileError', () => {
  it.each<[string, string, unknown]>([
    ['409 Conflict', 'conflict', apiError(409)],
    ['422 Invalid', 'terminal', apiError(422)],
    ['400 BadRequest', 'terminal', apiError(400)],
    ['403 Forbidden', 'terminal', apiError(403)],
    ['401 (credentials can be refreshed)', 'retry', apiError(401)],
    ['404', 'retry', apiError(404)],
    ['429', 'retry', apiError(429)],
    ['500', 'retry', apiError(500)],
    ['a network error', 'retry', new Error('ECONNRESET')],
  ])('%s → %s', (_name, want, err) => {
    expect(classifyReconcileError(err)).toBe(want);
  });
});

/** A controller over one key whose reconciles answer from `script` (then succeed). */
function setup(script: Array<Result | Error>) {
  const timers = new FakeTimers();
  const registry = new Registry();
  const metrics = buildRuntimeMetrics(registry);
  const queue = new WorkQueue({ timers, rateLimit: { baseDelayMs: 100, maxDelayMs: 10_000, qps: 1000, burst: 1000 }, hooks: workqueueHooks(metrics, 't') });
  const calls: number[] = [];
  const terminal: Array<{ key: string; code: number | undefined; reason: string }> = [];
  const controller = new Controller({
    name: 't', queue, sources: [], initialKeys: () => ['k'], logger, metrics, conflictRequeueMs: 1000,
    reconciler: {
      async reconcile() {
        calls.push(timers.now());
        const next = script.shift() ?? {};
        if (next instanceof Error) throw next;
        return next;
      },
      async reportTerminal(key, e) { terminal.push({ key, ...e }); },
    },
  });
  const metric = async (name: string, labels: Record<string, string>) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    return (m?.values as Array<{ labels: Record<string, string>; value: number }> | undefined)?.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  };
  return { timers, controller, calls, terminal, metric, queue };
}

describe('Controller', () => {
  it('looks again after Result.requeueAfterMs', async () => {
    const s = setup([{ requeueAfterMs: 5000 }]);
    s.controller.start();
    await settle();
    await s.timers.advance(4999);
    expect(s.calls).toEqual([0]);
    await s.timers.advance(1);
    expect(s.calls).toEqual([0, 5000]);
    expect(await s.metric('controller_runtime_reconcile_total', { controller: 't', result: 'requeue_after' })).toBe(1);
    await s.controller.stop();
  });

  it('requeues a 409 after the conflict delay, without per-key backoff', async () => {
    const s = setup([apiError(409), apiError(409), apiError(409)]);
    s.controller.start();
    await settle();
    await s.timers.advance(3000);
    expect(s.calls).toEqual([0, 1000, 2000, 3000]);
    expect(s.queue.limiter.retries('k')).toBe(0);
    expect(s.controller.counts).toMatchObject({ conflict: 3, success: 1, error: 0 });
    await s.controller.stop();
  });

  it('does not retry a terminal error, and tells the reconciler so it can say it to the user', async () => {
    const s = setup([apiError(403)]);
    s.controller.start();
    await settle();
    await s.timers.advance(60 * 60_000);
    expect(s.calls).toEqual([0]);
    expect(s.terminal).toEqual([{ key: 'k', code: 403, reason: 'R403' }]);
    expect(await s.metric('controller_runtime_terminal_reconcile_errors_total', { controller: 't' })).toBe(1);
    expect(await s.metric('controller_runtime_reconcile_total', { controller: 't', result: 'terminal' })).toBe(1);
    await s.controller.stop();
  });

  it('retries other errors with per-key exponential backoff, and forgets it on success', async () => {
    const s = setup([apiError(500), apiError(500), new Error('socket hang up')]);
    s.controller.start();
    await settle();
    await s.timers.advance(10_000);
    expect(s.calls).toEqual([0, 100, 300, 700]); // +100, +200, +400
    expect(s.queue.limiter.retries('k')).toBe(0);
    expect(await s.metric('controller_runtime_reconcile_errors_total', { controller: 't' })).toBe(3);
    expect(await s.metric('workqueue_retries_total', { name: 't' })).toBe(3);
    await s.controller.stop();
  });

  it('resolves firstPass once every initial key was reconciled, and false when stopped before', async () => {
    const s = setup([]);
    s.controller.start();
    expect(await s.controller.firstPass).toBe(true);
    await s.controller.stop();
    const never = new Controller({ name: 'n', queue: new WorkQueue(), sources: [{ start() {}, stop: async () => undefined, waitForSync: () => new Promise(() => undefined) }], logger, reconciler: { reconcile: async () => ({}) } });
    never.start();
    const stopped = never.stop();
    expect(await never.firstPass).toBe(false);
    void stopped;
  });
});
