// Parsing the sidecar's environment (written by the webhook, see core/sidecar-config.ts) into
// options. Pure: main.ts passes process.env in.

import { CONTROL_PATH } from '../core/control/protocol.js';
import { SIDECAR_ADMIN_PORT, SIDECAR_TUNNEL_PORT, TOKEN_MOUNT_PATH } from '../core/constants.js';
import type { WorkloadRef } from '../core/routing/table.js';
import { DEFAULT_SIDECAR_LIMITS, SIDECAR_ENV, SIDECAR_LIMIT_ENV, type SidecarLimits, type TakenOverPort } from '../core/sidecar-config.js';

/** Not part of the webhook contract: optional overrides for unusual pods and for the local test node. */
export const EXTRA_ENV = {
  /** Where the app listens (default 127.0.0.1). */
  appHost: 'DETOUR_APP_HOST',
  /** Address the sidecar binds (default all interfaces). */
  bindHost: 'DETOUR_BIND_HOST',
} as const;

export interface SidecarConfig {
  podName: string;
  workload: WorkloadRef;
  ports: TakenOverPort[];
  operatorUrl: string | undefined;
  /** PEM bundle to verify the operator's certificate with (wss://); undefined: the system's roots. */
  operatorCa: string | undefined;
  tokenPath: string;
  adminPort: number;
  tunnelPort: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  appHost: string;
  bindHost: string | undefined;
  limits: SidecarLimits;
  /**
   * Set when the pod belongs to no kind an Intercept can target (a bare Pod, a Job, a DaemonSet):
   * the sidecar then serves pass-through without the operator instead of refusing to start, since
   * refusing would take the pod down (issue 18.2's rule).
   */
  notInterceptable: string | undefined;
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'ReplicaSet']);
const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

function port(value: string | undefined, fallback: number, name: string, errors: string[]): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) errors.push(`${name} must be a port number, got ${JSON.stringify(value)}`);
  return n;
}

/** Each limit from its env var (a non-negative integer), else the default. */
export function parseLimits(env: Record<string, string | undefined>, errors: string[]): SidecarLimits {
  const out = { ...DEFAULT_SIDECAR_LIMITS };
  for (const key of Object.keys(SIDECAR_LIMIT_ENV) as (keyof SidecarLimits)[]) {
    const name = SIDECAR_LIMIT_ENV[key];
    const value = env[name];
    if (value === undefined || value === '') continue;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0) errors.push(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
    else out[key] = n;
  }
  for (const key of ['maxConnections', 'maxTunnels', 'maxTunnelsPerToken', 'headersTimeoutSeconds'] as const) {
    if (out[key] === 0) errors.push(`${SIDECAR_LIMIT_ENV[key]} must be at least 1`);
  }
  return out;
}

/** ws://operator:8081 → ws://operator:8081/control; a URL that already has a path is kept. */
export function controlUrl(base: string): string {
  const u = new URL(base);
  if (u.pathname === '' || u.pathname === '/') u.pathname = CONTROL_PATH;
  return u.toString();
}

export function parseSidecarEnv(env: Record<string, string | undefined>): { config: SidecarConfig } | { errors: string[] } {
  const errors: string[] = [];
  const podName = env[SIDECAR_ENV.podName] ?? 'unknown';
  const namespace = env[SIDECAR_ENV.podNamespace] ?? 'default';
  const workloadText = env[SIDECAR_ENV.workload] ?? '';
  const [kind, name] = workloadText.split('/', 2);
  let workload: WorkloadRef = { kind: 'Deployment', namespace, name: name ?? '' };
  let notInterceptable: string | undefined;
  if (!kind || !name) errors.push(`${SIDECAR_ENV.workload} must be Kind/name with Kind one of Deployment, StatefulSet, ReplicaSet; got ${JSON.stringify(workloadText)}`);
  else if (!WORKLOAD_KINDS.has(kind)) notInterceptable = workloadText;
  else workload = { kind: kind as WorkloadRef['kind'], namespace, name };

  let ports: TakenOverPort[] = [];
  try {
    const parsed: unknown = JSON.parse(env[SIDECAR_ENV.ports] ?? '[]');
    if (!Array.isArray(parsed)) throw new Error('not an array');
    ports = parsed.map((p: Partial<TakenOverPort>) => {
      if (typeof p.appPort !== 'number' || typeof p.listenPort !== 'number') throw new Error('each port needs numeric appPort and listenPort');
      return { name: typeof p.name === 'string' ? p.name : undefined, appPort: p.appPort, listenPort: p.listenPort };
    });
  } catch (err) {
    errors.push(`${SIDECAR_ENV.ports} must be a JSON array of {name?, appPort, listenPort}: ${(err as Error).message}`);
  }

  let operatorUrl: string | undefined;
  const rawUrl = notInterceptable === undefined ? env[SIDECAR_ENV.operatorUrl] : undefined;
  if (rawUrl) {
    try { operatorUrl = controlUrl(rawUrl); } catch { errors.push(`${SIDECAR_ENV.operatorUrl} is not a URL`); }
  }
  const rawCa = env[SIDECAR_ENV.operatorCa];
  const operatorCa = rawCa && rawCa.trim() !== '' ? rawCa : undefined;
  if (operatorCa !== undefined && !operatorCa.includes('-----BEGIN CERTIFICATE-----')) errors.push(`${SIDECAR_ENV.operatorCa} must be a PEM bundle of CA certificates`);
  const level = env[SIDECAR_ENV.logLevel] ?? 'info';
  if (!LEVELS.has(level)) errors.push(`${SIDECAR_ENV.logLevel} must be one of ${[...LEVELS].join(', ')}`);

  const config: SidecarConfig = {
    podName,
    workload,
    ports,
    operatorUrl,
    operatorCa,
    tokenPath: env[SIDECAR_ENV.tokenPath] || `${TOKEN_MOUNT_PATH}/token`,
    adminPort: port(env[SIDECAR_ENV.adminPort], SIDECAR_ADMIN_PORT, SIDECAR_ENV.adminPort, errors),
    tunnelPort: port(env[SIDECAR_ENV.tunnelPort], SIDECAR_TUNNEL_PORT, SIDECAR_ENV.tunnelPort, errors),
    logLevel: level as SidecarConfig['logLevel'],
    appHost: env[EXTRA_ENV.appHost] || '127.0.0.1',
    bindHost: env[EXTRA_ENV.bindHost] || undefined,
    limits: parseLimits(env, errors),
    notInterceptable,
  };
  return errors.length > 0 ? { errors } : { config };
}
