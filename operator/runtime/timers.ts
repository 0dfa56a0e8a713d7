// The clock and timers the runtime waits on, passed in so tests drive time by hand (a fake clock)
// instead of sleeping. `realTimers` is what the operator uses.

import { sleep } from '../../core/sleep.js';

export interface Timers {
  /** The current time, in milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` once after `ms`; returns a function that cancels it. Does not keep the process alive. */
  after(ms: number, fn: () => void): () => void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  sleep,
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};
