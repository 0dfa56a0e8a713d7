// The benchmark's operator section runs the product's builder against the in-memory API: a small
// run converges, routes every Intercept and reports the figures bench/operator.ts reads.
import { describe, expect, it } from '@jest/globals';
import { measureOperatorScale } from './operator-scale.js';

describe('measureOperatorScale (small)', () => {
  it.each([false, true])('converges and routes every Intercept (echoed writes: %s)', async (echo) => {
    const r = await measureOperatorScale({ n: 40, perWorkload: 4, replicas: 2, namespaces: 3, echo, capMs: 30_000 });
    expect(r).toMatchObject({ n: 40, finished: true, workloads: 10, routed: 40, errors: 0 });
    expect(r.coldReconciles).toBeGreaterThanOrEqual(40);
    expect(r.warmReconciles).toBeGreaterThanOrEqual(40);
    expect(r.apiCalls['GET /api/v1/pods']).toBe(1);
  });
});
