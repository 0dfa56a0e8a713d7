// The runtime's metrics, under controller-runtime's names (one set per registry, labelled by
// controller / queue name), so dashboards written for controller-runtime operators work unchanged.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { WorkQueueHooks } from './workqueue.js';

export type ReconcileResultLabel = 'success' | 'error' | 'conflict' | 'terminal' | 'requeue_after';

export interface RuntimeMetrics {
  reconcileTotal: Counter<'controller' | 'result'>;
  reconcileErrors: Counter<'controller'>;
  terminalReconcileErrors: Counter<'controller'>;
  reconcileTime: Histogram<'controller'>;
  activeWorkers: Gauge<'controller'>;
  maxConcurrentReconciles: Gauge<'controller'>;
  workqueueDepth: Gauge<'name'>;
  workqueueAdds: Counter<'name'>;
  workqueueRetries: Counter<'name'>;
  leader: Gauge<'name'>;
}

export function buildRuntimeMetrics(registry: Registry): RuntimeMetrics {
  const registers = [registry];
  return {
    reconcileTotal: new Counter({ name: 'controller_runtime_reconcile_total', help: 'Reconciliations per controller and result (success, error, conflict, terminal, requeue_after).', labelNames: ['controller', 'result'], registers }),
    reconcileErrors: new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Reconciliation errors per controller (retried with backoff).', labelNames: ['controller'], registers }),
    terminalReconcileErrors: new Counter({ name: 'controller_runtime_terminal_reconcile_errors_total', help: 'Reconciliation errors that are not retried (400, 401, 403, 422).', labelNames: ['controller'], registers }),
    reconcileTime: new Histogram({ name: 'controller_runtime_reconcile_time_seconds', help: 'Time per reconciliation.', labelNames: ['controller'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    activeWorkers: new Gauge({ name: 'controller_runtime_active_workers', help: 'Workers reconciling right now, per controller.', labelNames: ['controller'], registers }),
    maxConcurrentReconciles: new Gauge({ name: 'controller_runtime_max_concurrent_reconciles', help: 'Workers per controller.', labelNames: ['controller'], registers }),
    workqueueDepth: new Gauge({ name: 'workqueue_depth', help: 'Keys waiting in the work queue.', labelNames: ['name'], registers }),
    workqueueAdds: new Counter({ name: 'workqueue_adds_total', help: 'Adds handled by the work queue.', labelNames: ['name'], registers }),
    workqueueRetries: new Counter({ name: 'workqueue_retries_total', help: 'Rate-limited retries handled by the work queue.', labelNames: ['name'], registers }),
    leader: new Gauge({ name: 'leader_election_master_status', help: '1 while this instance is the leader.', labelNames: ['name'], registers }),
  };
}

/** The hooks that feed one queue's workqueue_* metrics. */
export function workqueueHooks(m: RuntimeMetrics | undefined, name: string): WorkQueueHooks {
  if (!m) return {};
  return {
    onAdd: () => m.workqueueAdds.inc({ name }),
    onDepth: (d) => m.workqueueDepth.set({ name }, d),
    onRetry: () => m.workqueueRetries.inc({ name }),
  };
}
