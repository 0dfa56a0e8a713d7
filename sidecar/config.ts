// Reading the sidecar's settings from its environment (written by the webhook, see
// core/sidecar-config.ts). Pure: main.ts passes process.env in; every bad setting is named in one
// error (core/env.ts).

import { CONTROL_PATH } from '../core/control/protocol.js';
import { SIDECAR_ADMIN_PORT, SIDECAR_TUNNEL_PORT, TOKEN_MOUNT_PATH } from '../core/constants.js';
import { readEnv, type Env, type EnvReader } from '../core/env.js';
import { LOG_LEVELS, type LogLevel } from '../core/logging.js';
import { parseWorkload, WORKLOAD_KINDS, type WorkloadRef } from '../core/workload-ref.js';
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
  logLevel: LogLevel;
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

/** Each limit from its env var (a non-negative integer; at least 1 where 0 would refuse everything), else the default. */
function readLimits(r: EnvReader): SidecarLimits {
  const out = { ...DEFAULT_SIDECAR_LIMITS };
  const atLeastOne = new Set<keyof SidecarLimits>(['maxConnections', 'maxTunnels', 'maxTunnelsPerToken', 'headersTimeoutSeconds']);
  for (const key of Object.keys(SIDECAR_LIMIT_ENV) as (keyof SidecarLimits)[]) {
    out[key] = r.integer(SIDECAR_LIMIT_ENV[key], DEFAULT_SIDECAR_LIMITS[key], { min: atLeastOne.has(key) ? 1 : 0 });
  }
  return out;
}

/** `DETOUR_PORTS`: a JSON array of {name?, appPort, listenPort}. */
function readPorts(r: EnvReader): TakenOverPort[] {
  try {
    const parsed: unknown = JSON.parse(r.string(SIDECAR_ENV.ports, '[]'));
    if (!Array.isArray(parsed)) throw new Error('not an array');
    return parsed.map((p: Partial<TakenOverPort>) => {
      if (typeof p.appPort !== 'number' || typeof p.listenPort !== 'number') throw new Error('each port needs numeric appPort and listenPort');
      return { name: typeof p.name === 'string' ? p.name : undefined, appPort: p.appPort, listenPort: p.listenPort };
    });
  } catch (err) {
    r.problem(`${SIDECAR_ENV.ports} must be a JSON array of {name?, appPort, listenPort}: ${(err as Error).message}`);
    return [];
  }
}

/** ws://operator:8081 → ws://operator:8081/control; a URL that already has a path is kept. */
export function controlUrl(base: string): string {
  const u = new URL(base);
  if (u.pathname === '' || u.pathname === '/') u.pathname = CONTROL_PATH;
  return u.toString();
}

/** The sidecar's settings; throws an EnvError naming every bad setting. */
export function readSidecarSettings(env: Env): SidecarConfig {
  const r = readEnv(env);
  const namespace = r.string(SIDECAR_ENV.podNamespace, 'default');
  const workloadText = r.string(SIDECAR_ENV.workload, '');
  const ref = parseWorkload(workloadText);
  // Not interceptable (pass-through) or invalid (refused): the name as given, under a placeholder kind.
  const workload: WorkloadRef = ref ? { ...ref, namespace } : { kind: 'Deployment', namespace, name: workloadText.split('/', 2)[1] ?? '' };
  let notInterceptable: string | undefined;
  // Another owner kind (the webhook records `Pod/web-1`, `Job/x`): pass-through, not a refusal.
  if (!ref && /^[^/]+\/[^/]+$/.test(workloadText)) notInterceptable = workloadText;
  else if (!ref) r.problem(`${SIDECAR_ENV.workload} must be Kind/name with Kind one of ${WORKLOAD_KINDS.join(', ')}; got ${JSON.stringify(workloadText)}`);

  let operatorUrl: string | undefined;
  const rawUrl = notInterceptable === undefined ? r.optional(SIDECAR_ENV.operatorUrl) : undefined;
  if (rawUrl) {
    try { operatorUrl = controlUrl(rawUrl); } catch { r.problem(`${SIDECAR_ENV.operatorUrl} is not a URL`); }
  }
  const rawCa = r.optional(SIDECAR_ENV.operatorCa);
  const operatorCa = rawCa && rawCa.trim() !== '' ? rawCa : undefined;
  if (operatorCa !== undefined && !operatorCa.includes('-----BEGIN CERTIFICATE-----')) r.problem(`${SIDECAR_ENV.operatorCa} must be a PEM bundle of CA certificates`);

  const config: SidecarConfig = {
    podName: r.string(SIDECAR_ENV.podName, 'unknown'),
    workload,
    ports: readPorts(r),
    operatorUrl,
    operatorCa,
    tokenPath: r.string(SIDECAR_ENV.tokenPath, `${TOKEN_MOUNT_PATH}/token`),
    adminPort: r.port(SIDECAR_ENV.adminPort, SIDECAR_ADMIN_PORT),
    tunnelPort: r.port(SIDECAR_ENV.tunnelPort, SIDECAR_TUNNEL_PORT),
    logLevel: r.oneOf(SIDECAR_ENV.logLevel, LOG_LEVELS, 'info'),
    appHost: r.string(EXTRA_ENV.appHost, '127.0.0.1'),
    bindHost: r.optional(EXTRA_ENV.bindHost),
    limits: readLimits(r),
    notInterceptable,
  };
  r.finish();
  return config;
}
