import { describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { buildHealthApp } from './health.js';

// Over a loopback socket: fastify's inject() pulls an ESM-only dependency jest cannot load here.
describe('health endpoints', () => {
  it.each([[true, 200], [false, 503]])('leader=%s → /readyz %s, /healthz 200', async (leader, code) => {
    const app = buildHealthApp({ ready: () => leader });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      expect((await fetch(`${base}/readyz`)).status).toBe(code);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
