import { describe, expect, it } from '@jest/globals';
import { buildHealthApp } from './health.js';

describe('health endpoints', () => {
  it.each([[true, 200], [false, 503]])('leader=%s → /readyz %s, /healthz 200', async (leader, code) => {
    const app = buildHealthApp({ ready: () => leader });
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(code);
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });
});
