import { describe, expect, it } from '@jest/globals';
import { buildEpoch, epochTerm, isNewerTable, type RoutingTable } from './table.js';

const workload = { kind: 'Deployment' as const, namespace: 'shop', name: 'checkout' };
const t = (epoch: string, version: number): RoutingTable => ({ epoch, version, workload, routes: [] });

describe('epochTerm', () => {
  it.each<[string, number]>([
    [buildEpoch(7, 'a1b2c3'), 7],
    ['0.ff', 0],
    ['', -1],
    ['e1', -1],
    ['7', -1],
    ['x.7', -1],
    ['1234567890123456.a', -1],
  ])('%j → %d', (epoch, term) => expect(epochTerm(epoch)).toBe(term));
});

describe('isNewerTable', () => {
  it.each<[string, RoutingTable, RoutingTable, boolean]>([
    ['a higher version of the same epoch', t('3.aa', 1), t('3.aa', 2), true],
    ['the same version of the same epoch', t('3.aa', 2), t('3.aa', 2), false],
    ['a lower version of the same epoch', t('3.aa', 2), t('3.aa', 1), false],
    ['a new leader (higher term), any version', t('3.aa', 9), t('4.bb', 1), true],
    ['the same holder leading again (same term, new random)', t('3.aa', 9), t('3.cc', 1), true],
    ['a deposed leader (older term) is refused', t('4.bb', 1), t('3.aa', 50), false],
    ['the first table after the empty one', t('', 0), t('0.aa', 1), true],
    ['an epoch without a term after one with a term is refused', t('2.aa', 1), t('e9', 5), false],
  ])('%s', (_n, current, next, expected) => expect(isNewerTable(current, next)).toBe(expected));
});
