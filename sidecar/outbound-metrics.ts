// Metrics of outbound connections (developer → cluster through this sidecar). Destinations go to
// the logs, not to labels: a developer's programs can dial any number of them.

import { Counter, Gauge, type Registry } from 'prom-client';

export interface OutboundMetrics {
  outboundConnections: Counter<'result'>;
  outboundBytes: Counter<'direction'>;
  outboundActive: Gauge;
  outboundTunnels: Gauge;
}

export function buildOutboundMetrics(registry: Registry): OutboundMetrics {
  const registers = [registry];
  return {
    outboundConnections: new Counter({
      name: 'detour_sidecar_outbound_connections_total',
      help: 'Outbound connections developers opened through this sidecar, by result (ok, cancelled, dns, refused, unreachable, timeout, bad_target, error).',
      labelNames: ['result'] as const, registers,
    }),
    outboundBytes: new Counter({
      name: 'detour_sidecar_outbound_bytes_total',
      help: 'Payload bytes of outbound connections, by direction (to_cluster, to_developer).',
      labelNames: ['direction'] as const, registers,
    }),
    outboundActive: new Gauge({
      name: 'detour_sidecar_outbound_active_connections',
      help: 'Outbound connections open right now.',
      registers,
    }),
    outboundTunnels: new Gauge({
      name: 'detour_sidecar_outbound_tunnels',
      help: 'Outbound tunnels (developer WebSockets on /outbound) connected.',
      registers,
    }),
  };
}
