// The contract between the webhook (which writes these env vars into the injected container) and
// the sidecar (which reads them in main.ts).

export const SIDECAR_ENV = {
  podName: 'POD_NAME',
  podNamespace: 'POD_NAMESPACE',
  podIp: 'POD_IP',
  /** `Kind/name` of the workload that owns the pod, e.g. `Deployment/checkout`. */
  workload: 'DETOUR_WORKLOAD',
  /** JSON `TakenOverPort[]`. */
  ports: 'DETOUR_PORTS',
  /** wss:// (or ws://) URL of the operator's control channel. */
  operatorUrl: 'DETOUR_OPERATOR_URL',
  /**
   * PEM bundle of the CAs the operator's serving certificate must chain to (the serving Secret's
   * ca.crt: the current CA, plus the previous one while a renewed CA settles). Absent: the
   * system's roots.
   */
  operatorCa: 'DETOUR_OPERATOR_CA',
  /** File holding the projected service-account token (audience `detour`). */
  tokenPath: 'DETOUR_TOKEN_PATH',
  adminPort: 'DETOUR_ADMIN_PORT',
  tunnelPort: 'DETOUR_TUNNEL_PORT',
  logLevel: 'DETOUR_LOG_LEVEL',
} as const;

export interface TakenOverPort {
  /** The port's name in the app container before the takeover (absent for a numeric, iptables-redirected port). */
  name?: string;
  /** Where the app really listens (container port number). */
  appPort: number;
  /** Where the sidecar listens for this port's traffic. */
  listenPort: number;
}

/**
 * Resource limits of the sidecar (docs/sidecar.md, "Limits"). Each is an env var of the injected
 * container; the webhook writes those set in its `DETOUR_SIDECAR_LIMITS` (chart `sidecar.limits`),
 * the sidecar uses the default for the others. Non-negative integers.
 */
export interface SidecarLimits {
  /** Connections open at once per taken-over port (idle ones are closed first to admit new ones). */
  maxConnections: number;
  /** Time an HTTP/1 request head and body may take to arrive (0: no limit). */
  requestTimeoutSeconds: number;
  /** Time an HTTP/1 request head may take to arrive. */
  headersTimeoutSeconds: number;
  /** An h2c connection without open streams for this long is closed with GOAWAY. */
  idleTimeoutSeconds: number;
  /** Developer tunnels connected at once (all tokens). */
  maxTunnels: number;
  /** Developer tunnels connected at once with one token. */
  maxTunnelsPerToken: number;
}

export const SIDECAR_LIMIT_ENV: Readonly<Record<keyof SidecarLimits, string>> = {
  maxConnections: 'DETOUR_MAX_CONNECTIONS',
  requestTimeoutSeconds: 'DETOUR_REQUEST_TIMEOUT_SECONDS',
  headersTimeoutSeconds: 'DETOUR_HEADERS_TIMEOUT_SECONDS',
  idleTimeoutSeconds: 'DETOUR_IDLE_TIMEOUT_SECONDS',
  maxTunnels: 'DETOUR_MAX_TUNNELS',
  maxTunnelsPerToken: 'DETOUR_MAX_TUNNELS_PER_TOKEN',
};

/**
 * Defaults sized for the injected container's 128 Mi memory limit: a tunnel can hold a 4 MiB
 * WebSocket message in flight, so 16 tunnels bound that to 64 MiB; 1024 idle HTTP/1 connections
 * cost a few MiB.
 */
export const DEFAULT_SIDECAR_LIMITS: Readonly<SidecarLimits> = {
  maxConnections: 1024,
  requestTimeoutSeconds: 300,
  headersTimeoutSeconds: 60,
  idleTimeoutSeconds: 300,
  maxTunnels: 16,
  maxTunnelsPerToken: 4,
};
