import { describe, expect, it } from '@jest/globals';
import { formatWorkload, isWorkloadKind, parseWorkload, WORKLOAD_KINDS, WORKLOAD_PLURALS } from './workload-ref.js';

describe('workload references', () => {
  it.each([
    ['Deployment/checkout', { kind: 'Deployment', name: 'checkout' }],
    ['StatefulSet/db-0', { kind: 'StatefulSet', name: 'db-0' }],
    ['ReplicaSet/rs', { kind: 'ReplicaSet', name: 'rs' }],
    ['Pod/x', undefined],
    ['Deployment/', undefined],
    ['/checkout', undefined],
    ['Deployment', undefined],
    ['Deployment/a/b', undefined],
  ])('parses %s', (text, expected) => expect(parseWorkload(text)).toEqual(expected));

  it('round-trips every kind', () => {
    for (const kind of WORKLOAD_KINDS) expect(parseWorkload(formatWorkload({ kind, name: 'n' }))).toEqual({ kind, name: 'n' });
  });

  it('has a plural for every kind and knows no other kind', () => {
    expect(Object.keys(WORKLOAD_PLURALS).sort()).toEqual([...WORKLOAD_KINDS].sort());
    expect(isWorkloadKind('DaemonSet')).toBe(false);
    expect(isWorkloadKind('Deployment')).toBe(true);
  });
});
