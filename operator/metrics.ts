// Operator metrics with controller-runtime-style names, on a registry passed in by main.ts.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { INTERCEPT_PHASES, type Intercept } from '../core/api/intercept.js';

export interface OperatorMetrics {
  reconcileTotal: Counter<'controller' | 'result'>;
  reconcileErrors: Counter<'controller'>;
  reconcileTime: Histogram<'controller'>;
  workqueueDepth: Gauge<'name'>;
  workqueueAdds: Counter<'name'>;
  workqueueRetries: Counter<'name'>;
  connectedSidecars: Gauge;
  leader: Gauge<'name'>;
}

export function buildOperatorMetrics(registry: Registry, intercepts: () => Intercept[]): OperatorMetrics {
  const registers = [registry];
  new Gauge({
    name: 'detour_intercepts',
    help: 'Intercepts known to the leader, by phase.',
    labelNames: ['phase'],
    registers,
    collect() {
      const counts = new Map<string, number>(INTERCEPT_PHASES.map((p) => [p, 0]));
      for (const i of intercepts()) {
        const p = i.status?.phase;
        if (p) counts.set(p, (counts.get(p) ?? 0) + 1);
      }
      for (const [phase, n] of counts) this.set({ phase }, n);
    },
  });
  return {
    reconcileTotal: new Counter({ name: 'controller_runtime_reconcile_total', help: 'Reconciliations per controller and result (success, error, conflict, requeue, requeue_after).', labelNames: ['controller', 'result'], registers }),
    reconcileErrors: new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Reconciliation errors per controller.', labelNames: ['controller'], registers }),
    reconcileTime: new Histogram({ name: 'controller_runtime_reconcile_time_seconds', help: 'Time per reconciliation.', labelNames: ['controller'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    workqueueDepth: new Gauge({ name: 'workqueue_depth', help: 'Keys waiting in the work queue.', labelNames: ['name'], registers }),
    workqueueAdds: new Counter({ name: 'workqueue_adds_total', help: 'Adds handled by the work queue.', labelNames: ['name'], registers }),
    workqueueRetries: new Counter({ name: 'workqueue_retries_total', help: 'Rate-limited retries handled by the work queue.', labelNames: ['name'], registers }),
    connectedSidecars: new Gauge({ name: 'detour_control_connected_sidecars', help: 'Sidecars connected to this operator over the control channel.', registers }),
    leader: new Gauge({ name: 'leader_election_master_status', help: '1 while this instance is the leader.', labelNames: ['name'], registers }),
  };
}
