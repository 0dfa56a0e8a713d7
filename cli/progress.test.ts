import { describe, expect, it } from '@jest/globals';
import type { Intercept, InterceptStatus } from '../core/api/intercept.js';
import { describeProgress } from './progress.js';

const cond = (type: string, status: 'True' | 'False' | 'Unknown', reason: string, message = '') => ({ type, status, reason, message, lastTransitionTime: 't' });
const icpt = (status: InterceptStatus | undefined, gen = 1): Intercept => ({
  apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept', metadata: { name: 'alice-checkout', namespace: 'shop', generation: gen },
  spec: { workload: { kind: 'Deployment', name: 'checkout' } }, ...(status ? { status } : {}),
});

describe('describeProgress', () => {
  it.each([
    ['no status: the operator has not seen it', icpt(undefined), 'waiting', /operator to pick up/],
    ['an old generation', icpt({ phase: 'Active', observedGeneration: 1 }, 2), 'waiting', /operator to pick up/],
    ['opting in', icpt({ phase: 'Pending', observedGeneration: 1, sidecars: { ready: 0, desired: 2 }, conditions: [cond('SidecarsReady', 'False', 'OptingIn')] }), 'waiting', /^Opting Deployment\/checkout in .*0\/2 sidecars ready/],
    ['rolling out', icpt({ phase: 'Pending', observedGeneration: 1, conditions: [cond('SidecarsReady', 'False', 'SidecarMissing', '1 pod without the sidecar')] }), 'waiting', /^Rolling out Deployment\/checkout: 1 pod without/],
    ['sidecars connecting', icpt({ phase: 'Pending', observedGeneration: 1, sidecars: { ready: 0, desired: 2 }, conditions: [cond('SidecarsReady', 'False', 'SidecarsConnecting')] }), 'waiting', /^Waiting for sidecars \(0\/2/],
    ['active with some sidecars', icpt({ phase: 'Active', observedGeneration: 1, sidecars: { ready: 1, desired: 2 }, conditions: [cond('SidecarsReady', 'False', 'SidecarsConnecting')] }), 'ready', /1\/2/],
    ['active', icpt({ phase: 'Active', observedGeneration: 1, sidecars: { ready: 2, desired: 2 }, conditions: [cond('SidecarsReady', 'True', 'SidecarsConnected')] }), 'ready', /^Sidecars ready \(2\/2/],
    ['waiting for the workload', icpt({ phase: 'Waiting', conditions: [cond('Routed', 'False', 'WorkloadNotFound', 'waiting for Deployment/checkout to exist')] }), 'waiting', /to exist/],
    ['a conflict', icpt({ phase: 'Conflict', conditions: [cond('Routed', 'False', 'Conflict', 'the older Steal intercept shop/bob matches')] }), 'failed', /^Conflict: the older Steal intercept shop\/bob/],
    ['failed on the port', icpt({ phase: 'Failed', conditions: [cond('Routed', 'False', 'PortNotFound', 'no port grpc')] }), 'failed', /^Failed: no port grpc/],
    ['expired', icpt({ phase: 'Expired', conditions: [cond('Routed', 'False', 'Expired', 'ttl 1h ran out')] }), 'failed', /^Expired: ttl 1h ran out/],
  ])('%s', (_n, i, state, message) => {
    const p = describeProgress(i);
    expect(p.state).toBe(state);
    expect(p.message).toMatch(message);
  });
});
