// The sidecar's Prometheus metrics, registered on the registry main.ts builds (no globals).

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How a request ended. `app`: no route; `developer`/`mirrored`: sent through a tunnel; `fallback`:
 * matched but no developer, sent to the app; `rejected`: matched, no developer, fallback Reject;
 * `failed`: the chosen upstream failed (502). */
export type RequestResult = 'app' | 'developer' | 'mirrored' | 'fallback' | 'rejected' | 'failed';

export interface SidecarMetrics {
  requests: Counter<'port' | 'intercept' | 'result'>;
  duration: Histogram<'result'>;
  tunnelBytes: Counter<'intercept' | 'direction'>;
  activeStreams: Gauge<'intercept'>;
  tunnelClients: Gauge<'intercept'>;
  tunnelRefused: Counter<'reason'>;
  clientErrors: Counter<'kind'>;
  limitRefusals: Counter<'limit'>;
  tableVersion: Gauge;
  controlConnected: Gauge;
}

export function buildSidecarMetrics(registry: Registry): SidecarMetrics {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'detour_sidecar_requests_total',
      help: 'Requests handled by the inbound proxy, by taken-over port, matched intercept ("" for none) and result.',
      labelNames: ['port', 'intercept', 'result'] as const, registers,
    }),
    duration: new Histogram({
      name: 'detour_sidecar_request_duration_seconds',
      help: 'Time from request arrival until the response finished, by result.',
      labelNames: ['result'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    tunnelBytes: new Counter({
      name: 'detour_sidecar_tunnel_bytes_total',
      help: 'Bytes carried by developer tunnels (WebSocket payload), by intercept and direction (to_developer, from_developer).',
      labelNames: ['intercept', 'direction'] as const, registers,
    }),
    activeStreams: new Gauge({
      name: 'detour_sidecar_tunnel_active_streams',
      help: 'Requests in flight through developer tunnels, by intercept.',
      labelNames: ['intercept'] as const, registers,
    }),
    tunnelClients: new Gauge({
      name: 'detour_sidecar_tunnel_clients',
      help: 'Developer tunnels connected, by intercept.',
      labelNames: ['intercept'] as const, registers,
    }),
    tunnelRefused: new Counter({
      name: 'detour_sidecar_tunnel_refused_total',
      help: 'Tunnel connections refused, by reason (missing_token, unknown_token, bad_request).',
      labelNames: ['reason'] as const, registers,
    }),
    clientErrors: new Counter({
      name: 'detour_sidecar_client_errors_total',
      help: 'Malformed or oversized requests answered with 4xx, and HTTP/2 session errors, by kind.',
      labelNames: ['kind'] as const, registers,
    }),
    limitRefusals: new Counter({
      name: 'detour_sidecar_limit_refusals_total',
      help: 'Connections, requests and tunnels refused or closed by a resource limit, by limit (connections, idle_evicted, request_timeout, headers_timeout, h2_idle, tunnels, tunnels_per_token).',
      labelNames: ['limit'] as const, registers,
    }),
    tableVersion: new Gauge({
      name: 'detour_sidecar_routing_table_version',
      help: 'Version of the routing table the sidecar serves (0 before the first table).',
      registers,
    }),
    controlConnected: new Gauge({
      name: 'detour_sidecar_control_connected',
      help: '1 while the control channel to the operator is connected.',
      registers,
    }),
  };
}
