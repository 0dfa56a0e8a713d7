// A rate-limited work queue with client-go's guarantees: repeated adds of a waiting key collapse,
// a key is never handed to two workers at once (an add while it is processed is replayed after
// `done`), delayed adds keep the earliest deadline, and failures back off per key.

import { RateLimiter, type RateLimiterOptions } from './rate-limiter.js';
import { realTimers, type Timers } from './timers.js';

/** What the queue reports, for the workqueue_* metrics. */
export interface WorkQueueHooks {
  onAdd?(): void;
  onDepth?(depth: number): void;
  onRetry?(): void;
}

export interface WorkQueueOptions {
  rateLimit?: RateLimiterOptions;
  timers?: Timers;
  hooks?: WorkQueueHooks;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { at: number; cancel: () => void }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;
  private readonly timers: Timers;
  private readonly hooks: WorkQueueHooks;
  readonly limiter: RateLimiter;

  constructor(opts: WorkQueueOptions = {}) {
    this.limiter = new RateLimiter(opts.rateLimit);
    this.timers = opts.timers ?? realTimers;
    this.hooks = opts.hooks ?? {};
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    this.hooks.onAdd?.();
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.timers.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    const cancel = this.timers.after(delayMs, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, cancel });
  }

  /** Re-adds `key` after its per-key backoff (and the global bucket) allow: a retry. */
  addRateLimited(key: string): void {
    this.hooks.onRetry?.();
    this.addAfter(key, this.limiter.when(key, this.timers.now()));
  }

  forget(key: string): void {
    this.limiter.forget(key);
  }

  /** The next key, or undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.take());
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  len(): number {
    return this.queue.length;
  }

  /** Keys queued, being processed or waiting for a delayed add: 0 means nothing is left to do now or later. */
  pending(): { queued: number; processing: number; delayed: number } {
    return { queued: this.queue.length, processing: this.processing.size, delayed: this.delayed.size };
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) d.cancel();
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.queue.push(key);
      waiter(this.take());
    } else {
      this.queue.push(key);
      this.hooks.onDepth?.(this.queue.length);
    }
  }

  private take(): string {
    const key = this.queue.shift()!;
    this.dirty.delete(key);
    this.processing.add(key);
    this.hooks.onDepth?.(this.queue.length);
    return key;
  }
}

/** Runs `workers` loops that take keys and call `process`; resolves when the queue shuts down. */
export async function runWorkers(queue: WorkQueue, workers: number, process: (key: string) => Promise<void>): Promise<void> {
  const loop = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await process(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}
