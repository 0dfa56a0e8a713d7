import { Registry, collectDefaultMetrics } from 'prom-client';

/** A fresh registry per process (no prom-client global), with Node's default process metrics. */
export function buildRegistry(defaultMetrics = true): Registry {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}
