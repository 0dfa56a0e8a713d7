// Forgetting intercepts that are gone. Every intercept name the sidecar ever routed leaves metric
// series (requests, tunnel bytes, active streams, clients), an InterceptStats entry and cached
// metric children in each proxy listener; on a shared cluster with developers coming and going
// that grows without bound. An intercept is gone once it is in neither the served table nor the
// label of a tunnel still connected (a draining one included): then all of it is dropped.

import type { Counter, Gauge } from 'prom-client';
import type { SidecarMetrics } from './metrics.js';

/** The names inside an `intercept` label (a tunnel whose token matched several intercepts is labelled `a,b`). */
export function splitInterceptLabel(label: string): string[] {
  return label === '' ? [] : label.split(',');
}

/**
 * Which intercepts to forget: those that have state (`present`) but are neither routed (`routed`)
 * nor part of a connected tunnel's label (`tunnelLabels`). Pure.
 */
export function planGoneIntercepts(present: Iterable<string>, routed: Iterable<string>, tunnelLabels: Iterable<string>): Set<string> {
  const keep = new Set<string>(routed);
  for (const label of tunnelLabels) for (const i of splitInterceptLabel(label)) keep.add(i);
  const gone = new Set<string>();
  for (const i of present) if (i !== '' && !keep.has(i)) gone.add(i);
  return gone;
}

type InterceptMetric = Counter<string> | Gauge<string>;

function interceptMetrics(m: SidecarMetrics): InterceptMetric[] {
  return [m.requests, m.tunnelBytes, m.activeStreams, m.tunnelClients];
}

/** Every intercept named by a series of the per-intercept metrics. */
export async function fetchInterceptsWithSeries(m: SidecarMetrics): Promise<Set<string>> {
  const out = new Set<string>();
  for (const metric of interceptMetrics(m)) {
    for (const v of (await metric.get()).values) {
      const label = v.labels.intercept;
      if (typeof label === 'string') for (const i of splitInterceptLabel(label)) out.add(i);
    }
  }
  return out;
}

/**
 * Removes the series naming a gone intercept, except those labelled exactly as a tunnel that is
 * still connected (`a,b` while `b` is still routed). Returns how many were removed.
 */
export async function removeInterceptSeries(m: SidecarMetrics, gone: ReadonlySet<string>, tunnelLabels: ReadonlySet<string>): Promise<number> {
  let removed = 0;
  for (const metric of interceptMetrics(m)) {
    for (const v of (await metric.get()).values) {
      const label = v.labels.intercept;
      if (typeof label !== 'string' || tunnelLabels.has(label)) continue;
      if (!splitInterceptLabel(label).some((i) => gone.has(i))) continue;
      metric.remove(v.labels as Record<string, string>);
      removed++;
    }
  }
  return removed;
}
