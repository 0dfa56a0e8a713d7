import { describe, expect, it } from '@jest/globals';
import type { RotationPlan } from '../../core/tls/rotation.js';
import { planCertificateRequeue } from './webhook-certificates.js';

const now = new Date('2026-01-01T00:00:00Z');
const plan = (serving: RotationPlan['serving'], nextInMs: number) => ({ serving, nextCheckAt: new Date(now.getTime() + nextInMs) }) as RotationPlan;
const o = { caPropagationMs: 10_000, resyncMs: 300_000 };

describe('planCertificateRequeue', () => {
  it.each<[string, { plan: RotationPlan; requeue: boolean }, number]>([
    ['a new CA waits for the bundle to propagate', { plan: plan({ action: 'wait', reason: 'new CA' }, 0), requeue: true }, 10_000],
    ['a lost write race comes back soon', { plan: plan({ action: 'keep' }, 3_600_000), requeue: true }, 1_000],
    ['otherwise at the next check', { plan: plan({ action: 'keep' }, 60_000), requeue: false }, 60_000],
    ['at most a resync period away (heals outside changes)', { plan: plan({ action: 'keep' }, 86_400_000), requeue: false }, 300_000],
    ['never sooner than a second', { plan: plan({ action: 'keep' }, -5_000), requeue: false }, 1_000],
  ])('%s', (_n, outcome, want) => {
    expect(planCertificateRequeue(outcome, now, o)).toBe(want);
  });
});
