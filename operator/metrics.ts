// The operator's own metrics, read when scraped (the runtime's controller-runtime-named ones are
// in runtime/metrics.ts), on a registry passed in by main.ts.

import { Gauge, type Registry } from 'prom-client';
import { INTERCEPT_PHASES, type Intercept } from '../core/api/intercept.js';

export interface OperatorMetricSources {
  /** The Intercepts the leader knows (none on a standby). */
  intercepts(): readonly Intercept[];
  /** Sidecars connected over the control channel. */
  connectedSidecars(): number;
}

export function buildOperatorMetrics(registry: Registry, sources: OperatorMetricSources): void {
  const registers = [registry];
  new Gauge({
    name: 'detour_intercepts',
    help: 'Intercepts known to the leader, by phase.',
    labelNames: ['phase'],
    registers,
    collect() {
      const counts = new Map<string, number>(INTERCEPT_PHASES.map((p) => [p, 0]));
      for (const i of sources.intercepts()) {
        const p = i.status?.phase;
        if (p) counts.set(p, (counts.get(p) ?? 0) + 1);
      }
      for (const [phase, n] of counts) this.set({ phase }, n);
    },
  });
  new Gauge({
    name: 'detour_control_connected_sidecars',
    help: 'Sidecars connected to this operator over the control channel.',
    registers,
    collect() { this.set(sources.connectedSidecars()); },
  });
}
