// Pure: which replicas of a workload can take a tunnel right now, and where to reach each one.

import { INJECTED_ANNOTATION } from '../core/constants.js';
import { parseInjectionRecord } from '../core/injection-record.js';
import { TUNNEL_PATH } from '../core/tunnel/protocol.js';

interface ContainerStatus { name: string; ready?: boolean; state?: { running?: unknown } }

export interface PodJson {
  metadata: { name: string; namespace?: string; uid: string; annotations?: Record<string, string>; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { containers?: unknown[]; initContainers?: unknown[] };
  status?: { phase?: string; podIP?: string; containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] };
}

/** A replica whose sidecar is ready to take a tunnel. */
export interface Replica {
  pod: string;
  uid: string;
  ip: string;
  tunnelPort: number;
}

export interface ReplicaPlan {
  ready: Replica[];
  /** Pods of the workload that cannot take a tunnel yet, with the reason (for the progress display). */
  notReady: Array<{ pod: string; reason: string }>;
}

/**
 * Replicas of `workload` (pods selected by its selector whose injection record names it) with a
 * ready sidecar; the tunnel port comes from the record (it moves when the app uses 15021).
 */
export function planReplicas(pods: readonly PodJson[], workload: string): ReplicaPlan {
  const plan: ReplicaPlan = { ready: [], notReady: [] };
  for (const pod of pods) {
    const name = pod.metadata.name;
    if (pod.metadata.deletionTimestamp) continue;
    const record = parseInjectionRecord(pod.metadata.annotations?.[INJECTED_ANNOTATION]);
    if (!record) { plan.notReady.push({ pod: name, reason: 'no Detour sidecar (created before the opt-in)' }); continue; }
    if (record.workload !== workload) continue;
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const sidecar = statuses.find((s) => s.name === record.sidecar);
    if (pod.status?.phase !== 'Running' || !pod.status.podIP) { plan.notReady.push({ pod: name, reason: `pod ${pod.status?.phase ?? 'Pending'}` }); continue; }
    if (!sidecar?.ready) { plan.notReady.push({ pod: name, reason: 'sidecar not ready yet' }); continue; }
    plan.ready.push({ pod: name, uid: pod.metadata.uid, ip: pod.status.podIP, tunnelPort: record.tunnelPort });
  }
  plan.ready.sort((a, b) => a.pod.localeCompare(b.pod));
  return plan;
}

/** Tunnels to open and to close, keyed by pod uid (a replaced pod with the same name is a new replica). */
export function diffReplicas(current: ReadonlySet<string>, desired: readonly Replica[]): { open: Replica[]; close: string[] } {
  const want = new Set(desired.map((r) => r.uid));
  return { open: desired.filter((r) => !current.has(r.uid)), close: [...current].filter((uid) => !want.has(uid)) };
}

/** Does a --via URL name replicas (`{podIP}`, `{pod}`), or is it one endpoint for all of them? */
export function viaIsPerReplica(via: string): boolean {
  return /\{(podIP|pod)\}/.test(via);
}

/**
 * The WebSocket URL of a replica's tunnel: through the API server's pod proxy subresource by
 * default, or the --via template with {podIP}, {pod}, {port} and {namespace} filled in.
 */
export function buildTunnelUrl(opts: { server: string; namespace: string; replica?: Replica; via?: string }): string {
  const toWs = (u: string) => u.replace(/^http(s?):\/\//, 'ws$1://');
  if (opts.via) {
    const r = opts.replica;
    const filled = opts.via
      .replaceAll('{podIP}', r?.ip ?? '')
      .replaceAll('{pod}', r?.pod ?? '')
      .replaceAll('{port}', String(r?.tunnelPort ?? ''))
      .replaceAll('{namespace}', opts.namespace);
    return toWs(filled);
  }
  const r = opts.replica;
  if (!r) throw new Error('a replica is needed for the pod proxy URL');
  const base = opts.server.replace(/\/$/, '');
  return `${toWs(base)}/api/v1/namespaces/${encodeURIComponent(opts.namespace)}/pods/${encodeURIComponent(r.pod)}:${r.tunnelPort}/proxy${TUNNEL_PATH}`;
}

/** A label selector string from a workload's `spec.selector` (matchLabels and matchExpressions). */
export function buildLabelSelector(selector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> } | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}
