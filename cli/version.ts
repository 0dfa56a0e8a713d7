// `detour version`: the CLI's version and, when a cluster is reachable, the operator's (from the
// status it writes on each Intercept) and the sidecars' of every workload an Intercept of the
// namespace targets (from the pods' injection records), each judged by the skew policy
// (docs/install.md "Upgrading"): CLI N works with sidecars N and N−1.

import { formatWorkload } from '../core/workload-ref.js';
import type { Intercept } from '../core/api/intercept.js';
import { INJECTED_ANNOTATION } from '../core/constants.js';
import { parseInjectionRecord, sidecarVersionOf } from '../core/injection-record.js';
import { planSkew, releaseLine } from '../core/version/release.js';
import { fetchWorkload, listIntercepts, listPods } from './cluster.js';
import type { Kube } from './kube.js';
import { buildLabelSelector } from './replicas.js';

export interface WorkloadVersions {
  /** `Kind/name`. */
  workload: string;
  intercepts: string[];
  /** Live pods with a sidecar: name and version (undefined: not recorded). */
  pods: Array<{ name: string; version?: string }>;
  /** Why the pods could not be read. */
  error?: string;
}

export interface ClusterVersions {
  context: string;
  namespace: string;
  /** Distinct operator versions in the Intercepts' status, with an Intercept that shows each. */
  operators: Array<{ version: string; intercept: string }>;
  intercepts: number;
  workloads: WorkloadVersions[];
}

export type VersionInput = { cli: string; cluster?: ClusterVersions; clusterError?: string };

function describeSidecar(version: string | undefined, cli: string): string {
  switch (planSkew(version, cli)) {
    case 'current': return '';
    case 'previous': return ' (previous release: supported)';
    case 'older': return ` (older than this CLI supports: restart the pods to get the operator's sidecar)`;
    case 'newer': return ` (newer than this CLI: upgrade the CLI to ${releaseLine(version!)})`;
    case 'unknown': return '';
  }
}

/** The lines `detour version` prints. Pure. */
export function buildVersionReport(input: VersionInput): string {
  const lines = [`CLI:       ${input.cli}`];
  if (input.clusterError !== undefined) {
    lines.push(`Cluster:   not reached (${input.clusterError})`);
    return lines.join('\n');
  }
  const c = input.cluster;
  if (!c) return lines.join('\n');
  lines.push(`Cluster:   context ${c.context}, namespace ${c.namespace}`);
  if (c.operators.length === 0) {
    lines.push(`Operator:  unknown (${c.intercepts === 0 ? `no Intercept in namespace ${c.namespace} to read it from` : 'no Intercept status names it: an operator older than 0.2.0, or none running'})`);
  } else {
    for (const o of c.operators) lines.push(`Operator:  ${o.version}${describeOperator(o.version, input.cli)} (status of Intercept ${o.intercept})`);
  }
  for (const w of c.workloads) {
    const head = `Sidecars:  ${w.workload} (Intercept${w.intercepts.length === 1 ? '' : 's'} ${w.intercepts.join(', ')}):`;
    if (w.error !== undefined) { lines.push(`${head} not read (${w.error})`); continue; }
    if (w.pods.length === 0) { lines.push(`${head} no pod with a sidecar`); continue; }
    const byVersion = new Map<string, string[]>();
    for (const p of w.pods) {
      const key = p.version ?? 'unrecorded';
      byVersion.set(key, [...byVersion.get(key) ?? [], p.name]);
    }
    lines.push(head);
    for (const [version, pods] of [...byVersion].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`  ${version}${describeSidecar(version === 'unrecorded' ? undefined : version, input.cli)}: ${pods.sort().join(', ')}`);
    }
  }
  return lines.join('\n');
}

function describeOperator(version: string, cli: string): string {
  const skew = planSkew(version, cli);
  if (skew === 'newer') return ` (newer than this CLI: upgrade the CLI to ${releaseLine(version)})`;
  if (skew === 'older' || skew === 'previous') return ` (older than this CLI; its sidecars are supported while they are ${releaseLine(cli)} or the release before)`;
  return '';
}

/** Reads the versions from the cluster: the Intercepts of the namespace, their workloads' pods. */
export async function fetchClusterVersions(kube: Kube): Promise<ClusterVersions> {
  const ns = kube.namespace;
  const intercepts: Intercept[] = await listIntercepts(kube, ns);
  const operators = new Map<string, string>();
  const workloads = new Map<string, string[]>();
  const refs = new Map<string, Intercept['spec']['workload']>();
  for (const i of intercepts) {
    const v = i.status?.operatorVersion;
    if (typeof v === 'string' && !operators.has(v)) operators.set(v, i.metadata.name);
    const key = formatWorkload(i.spec.workload);
    workloads.set(key, [...workloads.get(key) ?? [], i.metadata.name]);
    refs.set(key, i.spec.workload);
  }
  const out: WorkloadVersions[] = [];
  for (const [key, names] of [...workloads].sort(([a], [b]) => a.localeCompare(b))) {
    const entry: WorkloadVersions = { workload: key, intercepts: names, pods: [] };
    try {
      const workload = await fetchWorkload(kube, ns, refs.get(key)!);
      const pods = await listPods(kube, ns, buildLabelSelector(workload.spec?.selector));
      for (const p of pods) {
        if (p.metadata.deletionTimestamp) continue;
        const record = parseInjectionRecord(p.metadata.annotations?.[INJECTED_ANNOTATION]);
        if (!record || record.workload !== key) continue;
        const version = sidecarVersionOf(record);
        entry.pods.push({ name: p.metadata.name, ...(version ? { version } : {}) });
      }
    } catch (err) {
      entry.error = err instanceof Error ? err.message : String(err);
    }
    out.push(entry);
  }
  return { context: kube.context, namespace: ns, operators: [...operators].map(([version, intercept]) => ({ version, intercept })), intercepts: intercepts.length, workloads: out };
}
