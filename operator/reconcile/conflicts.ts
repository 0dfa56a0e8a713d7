// Conflict detection among the intercepts of one workload and port (pure).
//
// Two intercepts on the same workload and port OVERLAP when some request could match both; only
// provably disjoint rule sets do not (core/routing/overlap.ts: differing exact values on one
// header, an exact value outside a prefix, disjoint prefixes, disjoint path prefixes element-wise).
// Intercepts are admitted oldest first (creationTimestamp, then name). A newer one gets Conflict
// (and is not routed) when it overlaps an already admitted one and
//   - both are Steal (one developer would take requests another already takes), or
//   - it is a Steal with fallback Reject and the older one is a Mirror (with no developer connected
//     it would answer 503 to requests the older intercept serves).
// A Mirror never gets Conflict here (the sidecar always prefers Steal, so a copy never takes a
// request away from anyone); broad Mirrors are refused separately (broad-mirror.ts). An intercept
// that is itself in conflict is not admitted, so it never blocks a newer one.

import type { Intercept } from '../../core/api/intercept.js';
import { interceptKey } from '../../core/api/intercept.js';
import { matchesOverlap } from '../../core/routing/overlap.js';

export function normalisedPort(i: Intercept): string {
  return String(i.spec.port ?? 'http');
}

/** Older first: creationTimestamp, then name. */
export function byAge(a: Intercept, b: Intercept): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

function sameTarget(a: Intercept, b: Intercept): boolean {
  return a.spec.workload.kind === b.spec.workload.kind && a.spec.workload.name === b.spec.workload.name && normalisedPort(a) === normalisedPort(b);
}

/** Would `newer` conflict with the already admitted `older` (both on the same workload and port)? */
export function conflictsWith(newer: Intercept, older: Intercept): boolean {
  if ((newer.spec.mode ?? 'Steal') !== 'Steal') return false;
  if (older.spec.mode === 'Outbound') return false; // routes no request: nothing to take over or to answer 503 for
  const olderSteal = (older.spec.mode ?? 'Steal') === 'Steal';
  if (!olderSteal && (newer.spec.fallback ?? 'App') !== 'Reject') return false;
  return matchesOverlap(older.spec.match, newer.spec.match);
}

/**
 * For each candidate in conflict, the key of the older intercept it yields to. Candidates are the
 * intercepts that could be routed (not deleting, not expired, valid, not a refused broad Mirror).
 */
export function planConflicts(candidates: readonly Intercept[]): Map<string, string> {
  const admitted: Intercept[] = [];
  const conflicts = new Map<string, string>();
  for (const i of [...candidates].sort(byAge)) {
    const winner = admitted.find((a) => sameTarget(a, i) && conflictsWith(i, a));
    if (winner) conflicts.set(interceptKey(i), interceptKey(winner));
    else admitted.push(i);
  }
  return conflicts;
}
