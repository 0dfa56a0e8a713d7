import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CONTROL_PROTOCOL } from './control/negotiation.js';
import { DETOUR_VERSION } from './version/version.js';

/**
 * A fresh registry per process (no prom-client global), with Node's default process metrics and
 * `detour_build_info{version, control_protocol} 1` (every deployable builds its registry here).
 */
export function buildRegistry(defaultMetrics = true): Registry {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry });
  const info = new Gauge({ name: 'detour_build_info', help: 'The Detour build: version (package.json) and the newest control protocol it speaks; always 1.', labelNames: ['version', 'control_protocol'], registers: [registry] });
  info.set({ version: DETOUR_VERSION, control_protocol: String(CONTROL_PROTOCOL) }, 1);
  return registry;
}
