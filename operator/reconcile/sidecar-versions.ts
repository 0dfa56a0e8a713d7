// Which pods of a workload run a sidecar this operator cannot serve, decided from the injection
// records (issue 19.4): the SidecarsCurrent condition of an Intercept. A sidecar is replaced only
// when its pod restarts, so the message names the pods and the restart. Pure.

import { formatWorkload } from '../../core/workload-ref.js';
import type { ConditionInput } from '../../core/api/conditions.js';
import { sidecarVersionOf } from '../../core/injection-record.js';
import { planSkew, releaseLine, type Skew } from '../../core/version/release.js';
import type { WorkloadRef } from '../../core/workload-ref.js';
import { hasSidecar, injectionRecordOf, type Pod } from './workload.js';

export const SIDECARS_CURRENT = 'SidecarsCurrent';

export interface SidecarVersions {
  status: ConditionInput['status'];
  reason: 'SidecarsCurrent' | 'PreviousSidecars' | 'SidecarTooOld' | 'SidecarNewerThanOperator' | 'VersionsUnknown' | 'NoSidecars';
  message: string;
  /** Pod names by skew, for `detour status` and tests. */
  pods: Record<Skew, string[]>;
}

function names(pods: string[]): string {
  return pods.slice(0, 5).join(', ') + (pods.length > 5 ? `, and ${pods.length - 5} more` : '');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `kubectl rollout restart deployment/checkout -n shop` (a bare ReplicaSet: delete the pods). */
export function restartCommand(w: WorkloadRef, pods: string[]): string {
  const kind = w.kind.toLowerCase();
  return kind === 'replicaset' ? `kubectl delete pod -n ${w.namespace} ${pods.slice(0, 5).join(' ')}` : `kubectl rollout restart ${kind}/${w.name} -n ${w.namespace}`;
}

/** The SidecarsCurrent verdict over the live pods that carry a sidecar, against `operatorVersion`. */
export function planSidecarVersions(pods: readonly Pod[], operatorVersion: string, workload: WorkloadRef): SidecarVersions {
  const by: Record<Skew, string[]> = { current: [], previous: [], older: [], newer: [], unknown: [] };
  const versions: Record<string, string> = {};
  for (const p of pods) {
    if (p.metadata.deletionTimestamp || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' || !hasSidecar(p)) continue;
    const record = injectionRecordOf(p);
    const version = record ? sidecarVersionOf(record) : undefined;
    by[planSkew(version, operatorVersion)].push(p.metadata.name);
    if (version) versions[p.metadata.name] = version;
  }
  for (const list of Object.values(by)) list.sort();
  const ref = formatWorkload(workload);
  const total = Object.values(by).reduce((n, l) => n + l.length, 0);
  const listed = (pods: string[]) => names(pods.map((n) => (versions[n] ? `${n} (${versions[n]})` : n)));
  const unknown = by.unknown.length ? `; ${plural(by.unknown.length, 'pod')} without a recorded sidecar version (${names(by.unknown)})` : '';
  const line = releaseLine(operatorVersion);
  if (by.older.length > 0) {
    return { status: 'False', reason: 'SidecarTooOld', pods: by, message: `${plural(by.older.length, 'pod')} of ${ref} run a sidecar older than this operator (Detour ${operatorVersion}) serves — it serves ${line} and the release before it: ${listed(by.older)}. Only a restart replaces a sidecar: ${restartCommand(workload, by.older)}${unknown}` };
  }
  if (by.newer.length > 0) {
    return { status: 'False', reason: 'SidecarNewerThanOperator', pods: by, message: `${plural(by.newer.length, 'pod')} of ${ref} run a sidecar newer than this operator (Detour ${operatorVersion}): ${listed(by.newer)}. Upgrade the operator (helm upgrade) to the sidecars' release${unknown}` };
  }
  if (by.previous.length > 0) {
    return { status: 'True', reason: 'PreviousSidecars', pods: by, message: `${by.previous.length} of ${plural(total, 'sidecar')} of ${ref} run the previous release (${listed(by.previous)}), which this operator (Detour ${operatorVersion}) still serves; they get ${line} when their pods restart${unknown}` };
  }
  if (by.current.length > 0) {
    return { status: 'True', reason: 'SidecarsCurrent', pods: by, message: `${plural(by.current.length, 'sidecar')} of ${ref} run Detour ${line}, as the operator does${unknown}` };
  }
  if (by.unknown.length > 0) return { status: 'Unknown', reason: 'VersionsUnknown', pods: by, message: `${plural(by.unknown.length, 'pod')} of ${ref} without a recorded sidecar version (${names(by.unknown)})` };
  return { status: 'Unknown', reason: 'NoSidecars', pods: by, message: `no pod of ${ref} carries a sidecar yet` };
}
