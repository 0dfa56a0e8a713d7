// Pure questions about a workload object: its containers and ports, as the user named them.

import { WORKLOAD_PLURALS, type WorkloadKind } from '../core/workload-ref.js';

export interface ContainerJson {
  name: string;
  image?: string;
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  env?: Array<{ name: string; value?: string; valueFrom?: Record<string, unknown> }>;
  envFrom?: Array<Record<string, unknown>>;
}

export interface WorkloadJson {
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> };
    template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: { containers?: ContainerJson[]; initContainers?: ContainerJson[] } };
  };
}

const SIDECAR_NAMES = new Set(['detour-sidecar', 'detour-iptables']);

/** The app containers of the pod template (Detour's own left out). */
function appContainers(w: WorkloadJson): ContainerJson[] {
  return (w.spec?.template?.spec?.containers ?? []).filter((c) => !SIDECAR_NAMES.has(c.name));
}

/** Why `port` cannot be intercepted on this workload (undefined: it can be, as far as the CLI can tell). */
export function checkPort(w: WorkloadJson, kind: string, port: string | number): string | undefined {
  const ports = appContainers(w).flatMap((c) => (c.ports ?? []).map((p) => ({ ...p, container: c.name })));
  const found = typeof port === 'number' ? ports.some((p) => p.containerPort === port) : ports.some((p) => p.name === port);
  if (found) return undefined;
  const listed = ports.length ? ports.map((p) => `${p.name ? `${p.name}/` : ''}${p.containerPort}`).join(', ') : 'none';
  const hint = typeof port === 'number' ? '' : '; pass --port with one of the names (the port the Service targets)';
  return `${kind} ${w.metadata.name} has no container port ${typeof port === 'number' ? port : `named "${port}"`} (ports: ${listed})${hint}`;
}

/** The container `detour env` reads: the one named, else the first app container. */
export function pickContainer(w: WorkloadJson, kind: string, name: string | undefined): ContainerJson | string {
  const containers = appContainers(w);
  if (name === undefined) return containers[0] ?? `${kind} ${w.metadata.name} has no containers`;
  return containers.find((c) => c.name === name) ?? `${kind} ${w.metadata.name} has no container "${name}" (containers: ${containers.map((c) => c.name).join(', ') || 'none'})`;
}

/** The REST plural and API group of a workload kind. */
export function workloadResource(kind: WorkloadKind): { group: string; plural: string; resource: string } {
  const plural = WORKLOAD_PLURALS[kind];
  return { group: 'apps', plural, resource: `${plural}.apps` };
}
