// A controller in the shape of controller-runtime's: sources (informers, channels) put keys on a
// rate-limited work queue; workers take a key, call `reconcile(key)` and act on its `Result` or
// error:
//   Result{requeueAfterMs}  → forget the key's backoff, look again after that long
//   409 Conflict            → expected (someone wrote after the cache we read): no backoff, no token
//                             bucket, looked at again after `conflictRequeueMs` (its watch event
//                             normally re-queues it sooner)
//   400, 403, 422           → terminal: the same request would fail the same way; not retried (the
//                             next event or resync looks again), logged, and the reconciler may say
//                             so where a user looks (an Event)
//   anything else           → retried with per-key exponential backoff (core/backoff.ts)
// Metrics carry controller-runtime's names (runtime/metrics.ts).

import type { Logger } from '../../core/logging.js';
import { describeApiError, statusCodeOf } from '../../core/errors.js';
import type { ReconcileResultLabel, RuntimeMetrics } from './metrics.js';
import { runWorkers, type WorkQueue } from './workqueue.js';

export interface Result {
  /** Look at the key again after this long, in milliseconds. */
  requeueAfterMs?: number;
}

export interface Reconciler {
  reconcile(key: string): Promise<Result>;
  /** Tells the user (an Event, a condition) that `key` failed with an error that is not retried. Must not throw. */
  reportTerminal?(key: string, error: { code: number | undefined; reason: string }): Promise<void>;
}

/** What feeds the queue: an Informer, a channel. */
export interface Source {
  start(): void;
  stop(): Promise<void>;
  waitForSync(): Promise<void>;
}

export type ErrorHandling = 'conflict' | 'terminal' | 'retry';

/** What to do after a reconcile threw `err` (pure; core/errors.ts classes by status code). */
export function classifyReconcileError(err: unknown): ErrorHandling {
  const code = statusCodeOf(err);
  if (code === 409) return 'conflict';
  // 401 is left to retry: credentials can be refreshed; 400/403/422 repeat until something changes.
  if (code === 400 || code === 403 || code === 422) return 'terminal';
  return 'retry';
}

export interface ControllerOptions {
  name: string;
  queue: WorkQueue;
  reconciler: Reconciler;
  sources: readonly Source[];
  /** Keys the first pass covers, read once every source synced (and added to the queue). */
  initialKeys?: () => string[];
  workers?: number;
  logger: Logger;
  metrics?: RuntimeMetrics;
  /** Default 1000 ms. */
  conflictRequeueMs?: number;
  /** How errors are handled (default classifyReconcileError); a controller no event re-triggers retries everything. */
  classify?: (err: unknown) => ErrorHandling;
  /** Log field that names a key (default `key`). */
  keyField?: string;
}

export class Controller {
  readonly name: string;
  /** Resolves true once every initial key was reconciled once; false if the controller stopped first. */
  readonly firstPass: Promise<boolean>;
  /** Reconciles so far, by result. */
  readonly counts: Record<ReconcileResultLabel, number> = { success: 0, error: 0, conflict: 0, terminal: 0, requeue_after: 0 };
  private resolveFirstPass!: (done: boolean) => void;
  private pendingFirst: Set<string> | undefined;
  private inflight = 0;
  private workers: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: ControllerOptions) {
    this.name = o.name;
    this.firstPass = new Promise((r) => { this.resolveFirstPass = r; });
  }

  /** Starts the sources; once they synced, queues the initial keys and runs the workers. */
  start(): void {
    if (this.workers) return;
    for (const s of this.o.sources) s.start();
    this.o.metrics?.maxConcurrentReconciles.set({ controller: this.name }, this.o.workers ?? 1);
    this.workers = (async () => {
      await this.synced();
      if (this.stopped) return;
      const initial = this.o.initialKeys?.() ?? [];
      this.pendingFirst = new Set(initial);
      if (initial.length === 0) this.resolveFirstPass(true);
      for (const key of initial) this.o.queue.add(key);
      await runWorkers(this.o.queue, this.o.workers ?? 1, (key) => this.processKey(key));
    })();
  }

  /** Stops the queue and the sources; resolves when the workers finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.resolveFirstPass(false);
    this.o.queue.shutDown();
    await Promise.all(this.o.sources.map((s) => s.stop()));
    await this.workers;
  }

  /** Runs until `signal` aborts, then stops. */
  async run(signal: AbortSignal): Promise<void> {
    this.start();
    await untilAborted(signal);
    await this.stop();
  }

  /** Resolves once every source synced. */
  synced(): Promise<void> {
    return Promise.all(this.o.sources.map((s) => s.waitForSync())).then(() => undefined);
  }

  /** Puts `key` on the queue (what a source does). */
  enqueue(key: string): void {
    this.o.queue.add(key);
  }

  /** Nothing queued and nothing being reconciled (delayed re-adds may still be waiting). */
  idle(): boolean {
    return this.o.queue.len() === 0 && this.inflight === 0;
  }

  /** One reconcile of `key` and what its result or error asks for. Never throws. */
  async processKey(key: string): Promise<void> {
    const { queue, metrics, logger } = this.o;
    const controller = this.name;
    const field = this.o.keyField ?? 'key';
    const count = (result: ReconcileResultLabel) => {
      this.counts[result]++;
      metrics?.reconcileTotal.inc({ controller, result });
    };
    const end = metrics?.reconcileTime.startTimer({ controller });
    this.inflight++;
    metrics?.activeWorkers.inc({ controller });
    try {
      const r = await this.o.reconciler.reconcile(key);
      queue.forget(key);
      if (r.requeueAfterMs !== undefined) {
        queue.addAfter(key, r.requeueAfterMs);
        count('requeue_after');
      } else {
        count('success');
      }
    } catch (err) {
      const described = describeApiError(err);
      switch ((this.o.classify ?? classifyReconcileError)(err)) {
        case 'conflict':
          // Someone wrote the object after the cache we read from; the watch event re-queues the
          // key, the delayed add is the level-based safety net. Not an error.
          count('conflict');
          logger.debug({ controller, [field]: key, ...described }, 'Reconciled from a stale cache (409 Conflict); requeued');
          queue.forget(key);
          queue.addAfter(key, this.o.conflictRequeueMs ?? 1000);
          break;
        case 'terminal':
          count('terminal');
          metrics?.terminalReconcileErrors.inc({ controller });
          logger.error({ controller, [field]: key, ...described }, 'Failed to reconcile with an error that is not retried; waiting for a change');
          queue.forget(key);
          await this.o.reconciler.reportTerminal?.(key, described);
          break;
        default:
          count('error');
          metrics?.reconcileErrors.inc({ controller });
          logger.warn({ controller, [field]: key, ...described, retries: queue.limiter.retries(key) }, 'Failed to reconcile; retrying');
          queue.addRateLimited(key);
      }
    } finally {
      this.inflight--;
      metrics?.activeWorkers.dec({ controller });
      end?.();
      if (this.pendingFirst?.delete(key) && this.pendingFirst.size === 0) this.resolveFirstPass(!this.stopped);
    }
  }
}

/** A source that turns each value a Fanout emits into keys, while the controller runs. */
export function channelSource<T>(channel: { subscribe(listener: (value: T) => void): () => void }, onValue: (value: T) => void): Source {
  let unsubscribe: (() => void) | undefined;
  return {
    start() { unsubscribe ??= channel.subscribe(onValue); },
    async stop() { unsubscribe?.(); unsubscribe = undefined; },
    waitForSync: () => Promise.resolve(),
  };
}

/** Resolves once `signal` aborts. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((r) => signal.addEventListener('abort', () => r(), { once: true }));
}
