import { describe, expect, it } from '@jest/globals';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it.each([
    [0, { initialMs: 100, maxMs: 1000 }, 100],
    [1, { initialMs: 100, maxMs: 1000 }, 200],
    [3, { initialMs: 100, maxMs: 1000 }, 800],
    [4, { initialMs: 100, maxMs: 1000 }, 1000],
    [500, { initialMs: 100, maxMs: 1000 }, 1000],
    [-1, { initialMs: 100, maxMs: 1000 }, 100],
    [2, { initialMs: 100, maxMs: 1000, random: () => 0.5 }, 200],
    [2, { initialMs: 100, maxMs: 1000, random: () => 0 }, 0],
    [2, { initialMs: 100, maxMs: 1000, random: () => 0, minMs: 50 }, 50],
    [9, { initialMs: 500, maxMs: 15_000, random: () => 0.999999 }, 14_999],
    // The sidecar's control client: full jitter below min(max, initial·2^attempt).
    ...[0, 1, 2, 3, 10].map((attempt, i) => [attempt, { initialMs: 100, maxMs: 1000, random: () => 0.999 }, [99, 199, 399, 799, 999][i]!] as const),
    [5, { initialMs: 100, maxMs: 1000, random: () => 0 }, 0],
  ])('attempt %s with %j waits %s ms', (attempt, options, ms) => expect(backoffDelay(attempt, options)).toBe(ms));
});
