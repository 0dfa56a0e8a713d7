// The workqueue's rate limiter, as client-go's default: the larger of a per-key exponential
// backoff (core/backoff.ts) and a global token bucket. Pure over an injected clock (milliseconds).

import { backoffDelay } from '../../core/backoff.js';

export interface RateLimiterOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  qps?: number;
  burst?: number;
}

export class RateLimiter {
  private readonly failures = new Map<string, number>();
  private tokens: number;
  private last: number | undefined;
  private readonly base: number;
  private readonly max: number;
  private readonly qps: number;
  private readonly burst: number;

  constructor(opts: RateLimiterOptions = {}) {
    this.base = opts.baseDelayMs ?? 5;
    this.max = opts.maxDelayMs ?? 300_000;
    this.qps = opts.qps ?? 10;
    this.burst = opts.burst ?? 100;
    this.tokens = this.burst;
  }

  /** Delay before `key` may be processed again, recording one more failure for it. */
  when(key: string, nowMs: number): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const perKey = backoffDelay(n, { initialMs: this.base, maxMs: this.max });
    return Math.max(perKey, this.reserve(nowMs));
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Takes one token from the global bucket; returns how long until that token is available. */
  private reserve(nowMs: number): number {
    if (this.last !== undefined) this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) / 1000) * this.qps);
    this.last = nowMs;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }
}
