// Plain-JSON shapes of the workload objects the operator reads, and pure helpers over them.

import { INJECTED_ANNOTATION, IPTABLES_ANNOTATION, INJECT_LABEL, RENAMED_PORT_PREFIX, SIDECAR_CONTAINER } from '../../core/constants.js';
import { parseInjectionRecord, type InjectionRecord } from '../../core/injection-record.js';
import { iptablesCovers, parseIptablesAnnotation } from '../../core/iptables-annotation.js';
import type { ObjectMeta, WorkloadKind } from '../../core/api/intercept.js';

export interface ContainerPort { name?: string; containerPort: number; protocol?: string }
export interface Container { name: string; ports?: ContainerPort[] }
export interface PodSpec { containers: Container[]; initContainers?: Container[] }
export interface PodTemplate { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec }

export interface Workload {
  apiVersion?: string;
  kind: WorkloadKind;
  metadata: ObjectMeta;
  spec: { replicas?: number; selector?: { matchLabels?: Record<string, string> }; template: PodTemplate };
  status?: { replicas?: number; readyReplicas?: number };
}

export interface Pod {
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: { phase?: string };
}

export type PortResolution = { ok: true; containerPort?: number } | { ok: false; reason: 'PortNotFound' | 'NumericPortNeedsIptables'; message: string };

function describePorts(t: PodTemplate): string {
  const ports = t.spec.containers.filter((c) => c.name !== SIDECAR_CONTAINER).flatMap((c) => c.ports ?? []);
  if (ports.length === 0) return 'its containers declare no ports';
  return `its ports are ${ports.map((p) => (p.name ? `${p.name} (${p.containerPort})` : String(p.containerPort))).join(', ')}`;
}

/** Whether the Intercept's port can be taken over in this workload's pod template, and if not, what to do. */
export function resolvePort(workloadRef: string, template: PodTemplate, port: string | number): PortResolution {
  const containers = template.spec.containers.filter((c) => c.name !== SIDECAR_CONTAINER);
  if (typeof port === 'number') {
    const optIn = parseIptablesAnnotation(template.metadata?.annotations?.[IPTABLES_ANNOTATION]);
    if (!iptablesCovers(optIn, port)) {
      const listed = optIn.mode === 'ports' ? ` (it lists ${optIn.ports.length > 0 ? optIn.ports.join(', ') : 'no valid port'})` : '';
      return {
        ok: false,
        reason: 'NumericPortNeedsIptables',
        message: `port ${port} is a number: name the container port and set spec.port to the name, or add ${port} to the annotation ${IPTABLES_ANNOTATION}${listed} of the pod template of ${workloadRef} ("true" redirects every declared port; adds a NET_ADMIN init container)`,
      };
    }
    return { ok: true, containerPort: port };
  }
  for (const c of containers) {
    const p = (c.ports ?? []).find((x) => x.name === port || x.name === `${RENAMED_PORT_PREFIX}${port}`);
    if (p) return { ok: true, containerPort: p.containerPort };
  }
  return {
    ok: false,
    reason: 'PortNotFound',
    message: `no container of ${workloadRef} declares a port named "${port}"; ${describePorts(template)}: set spec.port to one of them`,
  };
}

export function isOptedIn(w: Workload): boolean {
  return w.spec.template.metadata?.labels?.[INJECT_LABEL] === 'true';
}

export function hasSidecar(pod: Pod): boolean {
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].some((c) => c.name === SIDECAR_CONTAINER);
}

/** Running or pending pods of the workload that carry no sidecar container. */
export function podsWithoutSidecar(pods: readonly Pod[]): Pod[] {
  return pods.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !hasSidecar(p));
}

export function desiredReplicas(w: Workload): number {
  return w.spec.replicas ?? 1;
}

/** What the webhook recorded it injected into the pod, if it did. */
export function injectionRecordOf(pod: Pod): InjectionRecord | undefined {
  return parseInjectionRecord(pod.metadata.annotations?.[INJECTED_ANNOTATION]);
}

/** Whether the injected sidecar listens for the Intercept's port (by name, or by the app's port number). */
export function takesOverPort(record: InjectionRecord, port: string | number): boolean {
  return record.ports.some((p) => (typeof port === 'number' ? p.appPort === port : p.name === port));
}

/**
 * Live pods that carry the sidecar but whose sidecar does not take the Intercept's port over (it
 * idles in pass-through for it): injected while the port had no name and no iptables opt-in, or
 * before the port was named.
 */
export function podsNotTakingOver(pods: readonly Pod[], port: string | number): Pod[] {
  return pods.filter((p) => {
    if (p.metadata.deletionTimestamp || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' || !hasSidecar(p)) return false;
    const record = injectionRecordOf(p);
    return record !== undefined && !takesOverPort(record, port);
  });
}
