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
