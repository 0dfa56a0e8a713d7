import { describe, expect, it } from '@jest/globals';
import { DEFAULT_SIDECAR_LIMITS } from '../core/sidecar-config.js';
import { EnvError } from '../core/env.js';
import { controlUrl, readSidecarSettings, type SidecarConfig } from './config.js';

const good = {
  POD_NAME: 'checkout-7d9f', POD_NAMESPACE: 'shop', DETOUR_WORKLOAD: 'Deployment/checkout',
  DETOUR_PORTS: JSON.stringify([{ name: 'http', appPort: 8080, listenPort: 15080 }]),
  DETOUR_OPERATOR_URL: 'ws://detour-operator.detour-system.svc:8081', DETOUR_TOKEN_PATH: '/var/run/t/token',
};

/** The settings, or the problems the EnvError names. */
function read(env: Record<string, string | undefined>): { config: SidecarConfig } | { errors: readonly string[] } {
  try { return { config: readSidecarSettings(env) }; } catch (err) {
    if (err instanceof EnvError) return { errors: err.problems };
    throw err;
  }
}

describe('readSidecarSettings', () => {
  it('reads the webhook contract with defaults', () => {
    const r = read(good);
    expect('config' in r && r.config).toEqual({
      podName: 'checkout-7d9f', workload: { kind: 'Deployment', namespace: 'shop', name: 'checkout' },
      ports: [{ name: 'http', appPort: 8080, listenPort: 15080 }],
      operatorUrl: 'ws://detour-operator.detour-system.svc:8081/control', operatorCa: undefined, tokenPath: '/var/run/t/token',
      adminPort: 15020, tunnelPort: 15021, logLevel: 'info', appHost: '127.0.0.1', bindHost: undefined,
      limits: DEFAULT_SIDECAR_LIMITS, notInterceptable: undefined,
    });
  });

  it.each([
    [{ DETOUR_WORKLOAD: 'x' }, /DETOUR_WORKLOAD/],
    [{ DETOUR_PORTS: 'nope' }, /DETOUR_PORTS/],
    [{ DETOUR_ADMIN_PORT: 'abc' }, /DETOUR_ADMIN_PORT/],
    [{ DETOUR_LOG_LEVEL: 'loud' }, /DETOUR_LOG_LEVEL/],
    [{ DETOUR_MAX_CONNECTIONS: '-1' }, /DETOUR_MAX_CONNECTIONS must be an integer from 1 to/],
    [{ DETOUR_REQUEST_TIMEOUT_SECONDS: '-1' }, /DETOUR_REQUEST_TIMEOUT_SECONDS must be an integer from 0 to/],
    [{ DETOUR_MAX_TUNNELS: '0' }, /DETOUR_MAX_TUNNELS must be an integer from 1 to/],
    [{ DETOUR_REQUEST_TIMEOUT_SECONDS: '1.5' }, /DETOUR_REQUEST_TIMEOUT_SECONDS/],
    [{ DETOUR_OPERATOR_CA: 'not a pem' }, /DETOUR_OPERATOR_CA/],
  ])('refuses %j', (patch, message) => {
    const r = read({ ...good, ...patch });
    expect('errors' in r && r.errors.join('\n')).toMatch(message);
  });

  it('names every bad setting at once', () => {
    const r = read({ ...good, DETOUR_WORKLOAD: 'x', DETOUR_ADMIN_PORT: 'abc', DETOUR_LOG_LEVEL: 'loud' });
    expect('errors' in r && r.errors.map((e) => e.split(' ')[0])).toEqual(['DETOUR_WORKLOAD', 'DETOUR_ADMIN_PORT', 'DETOUR_LOG_LEVEL']);
  });

  it('reads limits, 0 turning the request timeout off', () => {
    const r = read({ ...good, DETOUR_MAX_CONNECTIONS: '64', DETOUR_REQUEST_TIMEOUT_SECONDS: '0', DETOUR_MAX_TUNNELS_PER_TOKEN: '2' });
    expect('config' in r && r.config.limits).toEqual({ ...DEFAULT_SIDECAR_LIMITS, maxConnections: 64, requestTimeoutSeconds: 0, maxTunnelsPerToken: 2 });
  });

  it('accepts an empty port list: the sidecar idles instead of taking the pod down (issue 18.2)', () => {
    const r = read({ ...good, DETOUR_PORTS: '[]' });
    expect('config' in r && r.config.ports).toEqual([]);
  });

  it('reads the CA bundle that verifies the operator', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n';
    const r = read({ ...good, DETOUR_OPERATOR_URL: 'wss://op:8081', DETOUR_OPERATOR_CA: pem });
    expect('config' in r && r.config.operatorCa).toBe(pem);
  });

  it.each(['Pod/web-1', 'Job/x', 'DaemonSet/agent'])('serves %s pass-through without the operator instead of refusing to start', (workload) => {
    const r = read({ ...good, DETOUR_WORKLOAD: workload });
    expect('config' in r && { url: r.config.operatorUrl, why: r.config.notInterceptable, name: r.config.workload.name }).toEqual({ url: undefined, why: workload, name: workload.split('/')[1] });
  });

  it('runs without an operator (pass-through)', () => {
    const r = read({ ...good, DETOUR_OPERATOR_URL: undefined });
    expect('config' in r && r.config.operatorUrl).toBeUndefined();
  });
});

describe('controlUrl', () => {
  it('adds the control path only when the URL has none', () => {
    expect(controlUrl('ws://op:8081')).toBe('ws://op:8081/control');
    expect(controlUrl('wss://op:8081/custom')).toBe('wss://op:8081/custom');
  });
});
