// Which Services send the Intercept's traffic past the sidecar. Pure.
//
// Named takeover renames the app's port (`http` → `dt-http`) and gives the name to the sidecar: a
// Service whose targetPort is the *name* reaches the sidecar, one whose targetPort is the app's
// *number* (or the renamed `dt-http`) still reaches the app directly, and the developer's requests
// silently never arrive. The iptables opt-in redirects numbers, so a numeric targetPort the opt-in
// covers does reach the sidecar.

import { RENAMED_PORT_PREFIX } from '../../core/constants.js';
import { iptablesCovers, parseIptablesAnnotation } from '../../core/iptables-annotation.js';
import { IPTABLES_ANNOTATION } from '../../core/constants.js';
import type { ObjectMeta } from '../../core/api/intercept.js';
import type { PodTemplate } from './workload.js';

export interface ServicePort { name?: string; port: number; targetPort?: number | string; protocol?: string }
export interface Service {
  metadata: ObjectMeta;
  spec?: { selector?: Record<string, string> | null; ports?: ServicePort[]; type?: string };
}

export interface ServiceBypass {
  service: string;
  /** The Service port (its name, or its number when unnamed). */
  servicePort: string | number;
  targetPort: number | string;
}

/** Whether the Service's selector picks the pods of this template (an empty or absent selector picks none). */
export function selectsTemplate(service: Service, template: PodTemplate): boolean {
  const selector = service.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return false;
  const labels = template.metadata?.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * The ports of Services selecting the workload's pods that target the app behind the sidecar's
 * back, for an Intercept on the named port `port` whose app port is `containerPort`.
 */
export function planServiceBypass(services: readonly Service[], template: PodTemplate, port: string | number, containerPort: number | undefined): ServiceBypass[] {
  if (typeof port === 'number' || containerPort === undefined) return []; // numeric Intercepts need iptables, which redirects numbers
  const optIn = parseIptablesAnnotation(template.metadata?.annotations?.[IPTABLES_ANNOTATION]);
  const out: ServiceBypass[] = [];
  for (const s of services) {
    if (!selectsTemplate(s, template)) continue;
    for (const p of s.spec?.ports ?? []) {
      if (p.protocol !== undefined && p.protocol !== 'TCP') continue;
      const target = p.targetPort ?? p.port; // Kubernetes defaults targetPort to port
      const bypass = typeof target === 'number'
        ? target === containerPort && !iptablesCovers(optIn, target)
        : target === `${RENAMED_PORT_PREFIX}${port}`;
      if (bypass) out.push({ service: s.metadata.name, servicePort: p.name ?? p.port, targetPort: target });
    }
  }
  return out.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : String(a.servicePort) < String(b.servicePort) ? -1 : 1));
}

/** The condition message: which Service and port, and the two ways to fix it. */
export function describeBypass(bypass: readonly ServiceBypass[], port: string, containerPort: number, workloadRef: string): string {
  const list = bypass.slice(0, 5).map((b) => `Service ${b.service} port ${b.servicePort} (targetPort: ${b.targetPort})`).join(', ') + (bypass.length > 5 ? `, and ${bypass.length - 5} more` : '');
  return `${list} send${bypass.length === 1 ? 's' : ''} traffic straight to the app, past the sidecar, so matching requests through ${bypass.length === 1 ? 'it' : 'them'} never reach a developer: set targetPort: ${port} (the port's name), or add the annotation ${IPTABLES_ANNOTATION}: "${containerPort}" to the pod template of ${workloadRef}`;
}
