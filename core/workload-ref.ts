// The one vocabulary for "workload": the kinds an Intercept can target, their API plurals, a
// reference to one (kind, namespace, name), and its one wire format `Kind/name` (used in logs,
// routing tables, the control channel and CLI output). The full apps/v1 object is never called a
// workload reference.

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'ReplicaSet';
export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'ReplicaSet'];

/** The apps/v1 resource plural of each kind. */
export const WORKLOAD_PLURALS: Readonly<Record<WorkloadKind, string>> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  ReplicaSet: 'replicasets',
};

/** A workload inside a namespace that is implied (an Intercept's `spec.workload`). */
export interface WorkloadName {
  kind: WorkloadKind;
  name: string;
}

/** A workload anywhere in the cluster. */
export interface WorkloadRef extends WorkloadName {
  namespace: string;
}

export function isWorkloadKind(value: unknown): value is WorkloadKind {
  return typeof value === 'string' && (WORKLOAD_KINDS as readonly string[]).includes(value);
}

/**
 * `Deployment/checkout`: the one wire and display format of a workload reference. Takes any kind:
 * the webhook also records owners an Intercept cannot target (`Job/backup`, `Pod/debug`).
 */
export function formatWorkload(ref: { kind: string; name: string }): string {
  return `${ref.kind}/${ref.name}`;
}

/** Parses `formatWorkload`'s output; undefined for anything else (an unknown kind, no name, extra `/`). */
export function parseWorkload(text: string): WorkloadName | undefined {
  const slash = text.indexOf('/');
  if (slash <= 0) return undefined;
  const kind = text.slice(0, slash);
  const name = text.slice(slash + 1);
  if (!isWorkloadKind(kind) || name === '' || name.includes('/')) return undefined;
  return { kind, name };
}
