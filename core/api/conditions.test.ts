import { describe, expect, it } from '@jest/globals';
import { mergeConditions, type Condition } from './conditions.js';

const t0 = '2025-01-01T00:00:00Z';
const now = new Date('2025-01-01T01:00:00.123Z');

describe('mergeConditions', () => {
  const prev: Condition[] = [{ type: 'Routed', status: 'True', lastTransitionTime: t0, reason: 'Routed', message: 'a' }];
  it.each([
    ['keeps the transition time when the status is unchanged', 'True', t0],
    ['moves the transition time when the status changes', 'False', '2025-01-01T01:00:00Z'],
  ] as const)('%s', (_name, status, expected) => {
    const [c] = mergeConditions(prev, [{ type: 'Routed', status, reason: 'X', message: 'changed' }], now);
    expect(c!.lastTransitionTime).toBe(expected);
    expect(c!.message).toBe('changed');
  });

  it('stamps new conditions with now and drops conditions no longer desired', () => {
    const out = mergeConditions(prev, [{ type: 'WorkloadFound', status: 'True', reason: 'Found', message: '', observedGeneration: 2 }], now);
    expect(out).toEqual([{ type: 'WorkloadFound', status: 'True', reason: 'Found', message: '', observedGeneration: 2, lastTransitionTime: '2025-01-01T01:00:00Z' }]);
  });
});
