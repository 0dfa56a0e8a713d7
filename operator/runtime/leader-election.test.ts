// Leader election on a Lease in the in-memory API, with fake time: nothing here waits on the wall
// clock, and every Lease the elector writes is read back from the API.
import { describe, expect, it } from '@jest/globals';
import { buildLogger } from '../../core/logging.js';
import { FakeTimers, settle } from '../../test/fixtures/fake-timers.js';
import { MemoryApi } from '../../test/fixtures/memory-api.js';
import { startLeaderElection, type LeaderElector } from './leader-election.js';

const LEASES = '/apis/coordination.k8s.io/v1/leases';
const logger = buildLogger({ name: 'test', level: 'silent' });
const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

interface LeaseSpec { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string; leaseTransitions?: number }

function setup() {
  const api = new MemoryApi();
  const timers = new FakeTimers(Date.parse('2026-01-01T00:00:00Z'));
  const events: string[] = [];
  const signals: AbortSignal[] = [];
  const start = (identity: string): LeaderElector => startLeaderElection({
    client: api, namespace: 'ns', name: 'lease', identity, logger, timers, ...timing,
    onStartedLeading: (signal, term) => { events.push(`${identity} started ${term}`); signals.push(signal); },
    onStoppedLeading: () => { events.push(`${identity} stopped`); },
  });
  const lease = () => api.get<{ spec: LeaseSpec }>(LEASES, 'ns', 'lease')?.spec;
  /** `a` leads, then `b` starts as its standby. */
  const leaderAndStandby = async () => {
    const a = start('a');
    await settle();
    const b = start('b');
    await settle();
    return { a, b };
  };
  return { api, timers, events, signals, start, lease, leaderAndStandby };
}

describe('leader election', () => {
  it('acquires a free lease at once, as term 0', async () => {
    const { start, events, lease } = setup();
    const a = start('a');
    await settle();
    expect(a.isLeader()).toBe(true);
    expect(events).toEqual(['a started 0']);
    expect(lease()).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    await a.stop();
  });

  it('renews every retry period with the injected clock', async () => {
    const { start, timers, lease } = setup();
    const a = start('a');
    await settle();
    const acquired = lease()!;
    await timers.advance(2_000);
    expect(lease()!.renewTime).toBe('2026-01-01T00:00:02.000000Z');
    expect(lease()!.acquireTime).toBe(acquired.acquireTime);
    expect(a.isLeader()).toBe(true);
    await a.stop();
  });

  it('steps down when it could not renew within the renew deadline', async () => {
    const { api, start, timers, events, signals } = setup();
    const a = start('a');
    await settle();
    api.failNext('PUT', '/leases/lease', 500, 1000);
    await timers.advance(10_000); // renewals at 2, 4, 6, 8, 10 s fail; 10 s since the last one is not past the deadline
    expect(a.isLeader()).toBe(true);
    await timers.advance(2_000);
    expect(a.isLeader()).toBe(false);
    expect(events).toEqual(['a started 0', 'a stopped']);
    expect(signals[0]!.aborted).toBe(true);
    await a.stop();
  });

  it('takes over a lease whose holder stopped renewing, only after the lease duration, as the next term', async () => {
    const s = setup();
    s.api.put(LEASES, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'lease', namespace: 'ns' }, spec: { holderIdentity: 'crashed', leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:00.000000Z', leaseTransitions: 4 } });
    const b = s.start('b');
    await settle();
    expect(b.isLeader()).toBe(false);
    await s.timers.advance(14_000); // expiry is judged from when b first saw the record, not from renewTime
    expect(b.isLeader()).toBe(false);
    await s.timers.advance(2_000);
    expect(b.isLeader()).toBe(true);
    expect(s.events).toEqual(['b started 5']);
    expect(s.lease()).toMatchObject({ holderIdentity: 'b', leaseTransitions: 5 });
    await b.stop();
  });

  it('does not take over while the holder keeps renewing', async () => {
    const s = setup();
    const { a, b } = await s.leaderAndStandby();
    await s.timers.advance(60_000);
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    await b.stop();
    await a.stop();
  });

  it('releases the lease on stop, so a standby takes over at its next try', async () => {
    const s = setup();
    const { a, b } = await s.leaderAndStandby();
    await a.stop();
    expect(a.isLeader()).toBe(false);
    expect(s.lease()).toMatchObject({ leaseDurationSeconds: 1 });
    expect(s.lease()!.holderIdentity).toBeUndefined();
    await s.timers.advance(2_000);
    expect(b.isLeader()).toBe(true);
    expect(s.events).toEqual(['a started 0', 'a stopped', 'b started 1']);
    await b.stop();
  });
});
