// Conflict detection between Steal intercepts of one workload (pure).
// Two Steal intercepts on the same workload and port conflict when some request could match both:
// identical header rules (in any order, names case-insensitive) with overlapping path prefixes, or
// one of them global. Intercepts are admitted oldest first (creationTimestamp, then name); one that
// overlaps an already admitted intercept gets Conflict, so an intercept that is itself in conflict
// never blocks a newer one.

import type { Intercept } from '../../core/api/intercept.js';
import { interceptKey } from '../../core/api/intercept.js';

export function normalisedPort(i: Intercept): string {
  return String(i.spec.port ?? 'http');
}

function headerSignature(i: Intercept): string {
  const rules = (i.spec.match?.headers ?? []).map((h) => {
    const [kind, value] = h.exact !== undefined ? ['exact', h.exact] : h.prefix !== undefined ? ['prefix', h.prefix] : ['regex', h.regex ?? ''];
    return JSON.stringify([h.name.toLowerCase(), kind, value]);
  });
  return [...new Set(rules)].sort().join('\n');
}

function pathsOverlap(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  return a.startsWith(b) || b.startsWith(a);
}

/** True when some request could match both intercepts' rules. */
export function matchesOverlap(a: Intercept, b: Intercept): boolean {
  if (a.spec.match === undefined || b.spec.match === undefined) return true;
  return headerSignature(a) === headerSignature(b) && pathsOverlap(a.spec.match.pathPrefix, b.spec.match.pathPrefix);
}

/** Older first: creationTimestamp, then name. */
export function byAge(a: Intercept, b: Intercept): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/**
 * For each candidate in conflict, the key of the older intercept it yields to. Candidates are the
 * intercepts that could be routed (not deleting, not expired, valid); only Steal ones take part.
 */
export function planConflicts(candidates: readonly Intercept[]): Map<string, string> {
  const admitted: Intercept[] = [];
  const conflicts = new Map<string, string>();
  const steal = candidates.filter((i) => (i.spec.mode ?? 'Steal') === 'Steal').sort(byAge);
  for (const i of steal) {
    const winner = admitted.find(
      (a) => a.spec.workload.kind === i.spec.workload.kind && a.spec.workload.name === i.spec.workload.name && normalisedPort(a) === normalisedPort(i) && matchesOverlap(a, i),
    );
    if (winner) conflicts.set(interceptKey(i), interceptKey(winner));
    else admitted.push(i);
  }
  return conflicts;
}
