import { describe, expect, it } from '@jest/globals';
import { RateLimiter } from './rate-limiter.js';
import { WorkQueue, runWorkers } from './workqueue.js';

describe('WorkQueue', () => {
  it('collapses repeated adds of a waiting key', async () => {
    const q = new WorkQueue();
    q.add('a'); q.add('b'); q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands a key to two workers at once, and replays an add made while it was processed', async () => {
    const q = new WorkQueue();
    const running = new Set<string>();
    let overlap = false;
    let runs = 0;
    q.add('k');
    const workers = runWorkers(q, 4, async (key) => {
      if (running.has(key)) overlap = true;
      running.add(key);
      runs++;
      if (runs === 1) { q.add('k'); q.add('k'); }
      await new Promise((r) => setTimeout(r, 5));
      running.delete(key);
      if (runs === 2) q.shutDown();
    });
    await workers;
    expect(overlap).toBe(false);
    expect(runs).toBe(2);
  });

  it('keeps the earliest of two delayed adds', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 60_000);
    q.addAfter('a', 1);
    expect(await q.get()).toBe('a');
    q.shutDown();
  });

  it('returns undefined to waiting workers on shutdown', async () => {
    const q = new WorkQueue();
    const pending = q.get();
    q.shutDown();
    expect(await pending).toBeUndefined();
  });
});

describe('RateLimiter', () => {
  it('backs off exponentially per key up to the cap, and forget resets it', () => {
    const r = new RateLimiter({ baseDelayMs: 10, maxDelayMs: 100, qps: 1000, burst: 1000 });
    expect([0, 1, 2, 3, 4, 5].map(() => r.when('a', 0))).toEqual([10, 20, 40, 80, 100, 100]);
    expect(r.when('b', 0)).toBe(10);
    r.forget('a');
    expect(r.when('a', 0)).toBe(10);
  });

  it('spreads a burst of failures over the global bucket', () => {
    const r = new RateLimiter({ baseDelayMs: 1, qps: 10, burst: 2 });
    const delays = ['a', 'b', 'c', 'd'].map((k) => r.when(k, 0));
    expect(delays).toEqual([1, 1, 100, 200]);
    expect(r.when('e', 1000)).toBe(1); // the bucket refilled
  });
});
