// metav1.Condition helpers (pure): lastTransitionTime changes only when status changes.

import { rfc3339 } from './time.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** A condition as a decision states it; the transition time is filled in by `mergeConditions`. */
export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/**
 * The new condition list: each desired condition keeps the previous lastTransitionTime when its
 * status did not change, and takes `now` when it did (or is new). Conditions not desired are dropped.
 */
export function mergeConditions(previous: readonly Condition[] | undefined, desired: readonly ConditionInput[], now: Date): Condition[] {
  return desired.map((d) => {
    const prev = previous?.find((p) => p.type === d.type);
    const lastTransitionTime = prev && prev.status === d.status ? prev.lastTransitionTime : rfc3339(now);
    const c: Condition = { type: d.type, status: d.status, lastTransitionTime, reason: d.reason, message: d.message };
    if (d.observedGeneration !== undefined) c.observedGeneration = d.observedGeneration;
    return c;
  });
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
