// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection: acquire when
// the lease is free or its holder stopped renewing for leaseDuration (judged by when *we* last saw
// the record change, so clocks need not agree), renew every retryPeriod, give up leadership when a
// renewal has not succeeded within renewDeadline, and release the lease on a graceful stop. The
// clock and the sleeps come from `timers`, so unit tests move time by hand.

import type { Logger } from '../../core/logging.js';
import { classifyApiError, describeApiError } from '../../core/errors.js';
import { resourcePath, type KubeClient } from '../../core/kube/client.js';
import { realTimers, type Timers } from './timers.js';

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  /** The clock and the sleep between tries (default: the real ones). */
  timers?: Timers;
  /**
   * Called when this instance becomes leader; the signal aborts when it stops being leader. `term`
   * is the Lease's leaseTransitions as this instance took it: it grows with every change of holder,
   * so sidecars can refuse the tables of a deposed leader.
   */
  onStartedLeading(signal: AbortSignal, term: number): void;
  onStoppedLeading(): void;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

export interface LeaderElector {
  isLeader(): boolean;
  stop(): Promise<void>;
}

function microTime(d: Date): string {
  return d.toISOString().replace(/Z$/, '000Z');
}

export function startLeaderElection(o: LeaderElectionOptions): LeaderElector {
  const leaseMs = o.leaseDurationMs ?? 15_000;
  const renewDeadline = o.renewDeadlineMs ?? 10_000;
  const retry = o.retryPeriodMs ?? 2_000;
  const path = resourcePath('coordination.k8s.io', 'v1', 'leases', o.namespace);
  const timers = o.timers ?? realTimers;
  const stopping = new AbortController();
  let leader = false;
  /** leaseTransitions of the Lease as last acquired or renewed by this instance. */
  let term = 0;
  let leading: AbortController | undefined;
  let observed: { record: string; at: number } | undefined;
  let lastRenew = 0;

  async function tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date(timers.now());
    let lease: Lease | undefined;
    try {
      lease = await o.client.request<Lease>('GET', `${path}/${o.name}`);
    } catch (err) {
      if (classifyApiError(err) !== 'not-found') throw err;
    }
    const spec = { holderIdentity: o.identity, leaseDurationSeconds: Math.ceil(leaseMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
    if (!lease) {
      await o.client.request('POST', path, { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: o.name, namespace: o.namespace }, spec } });
      term = 0;
      return true;
    }
    const record = JSON.stringify([lease.spec.holderIdentity, lease.spec.renewTime]);
    if (!observed || observed.record !== record) observed = { record, at: timers.now() };
    const holder = lease.spec.holderIdentity;
    const heldByOther = holder && holder !== o.identity;
    const holderLeaseMs = (lease.spec.leaseDurationSeconds ?? Math.ceil(leaseMs / 1000)) * 1000;
    if (heldByOther && observed.at + holderLeaseMs > timers.now()) return false;
    const mine = holder === o.identity;
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        acquireTime: mine && lease.spec.acquireTime ? lease.spec.acquireTime : spec.acquireTime,
        leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    await o.client.request('PUT', `${path}/${o.name}`, { body: next }); // resourceVersion makes this a compare-and-swap
    term = next.spec.leaseTransitions ?? 0;
    return true;
  }

  function becomeLeader() {
    leader = true;
    leading = new AbortController();
    o.logger.info({ lease: `${o.namespace}/${o.name}`, identity: o.identity }, 'Became leader');
    o.onStartedLeading(leading.signal, term);
  }

  function loseLeadership(why: string) {
    if (!leader) return;
    leader = false;
    leading?.abort();
    o.logger.warn({ lease: `${o.namespace}/${o.name}`, identity: o.identity, why }, 'Stopped leading');
    o.onStoppedLeading();
  }

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        const ok = await tryAcquireOrRenew();
        if (ok) {
          lastRenew = timers.now();
          if (!leader) becomeLeader();
        } else if (leader) {
          loseLeadership('another instance holds the lease');
        }
      } catch (err) {
        // A 409: another replica won the compare-and-swap; time its lease from the record we read next.
        if (classifyApiError(err) !== 'conflict') o.logger.warn({ lease: `${o.namespace}/${o.name}`, ...describeApiError(err) }, 'Failed to acquire or renew the lease');
        else if (!leader) observed = undefined;
      }
      if (leader && timers.now() - lastRenew > renewDeadline) loseLeadership('renewal deadline passed');
      await timers.sleep(retry, stopping.signal);
    }
  })();

  return {
    isLeader: () => leader,
    async stop() {
      stopping.abort();
      await loop;
      if (!leader) return;
      loseLeadership('shutting down');
      try {
        const lease = await o.client.request<Lease>('GET', `${path}/${o.name}`);
        if (lease.spec.holderIdentity === o.identity) {
          await o.client.request('PUT', `${path}/${o.name}`, {
            body: { ...lease, spec: { leaseDurationSeconds: 1, renewTime: microTime(new Date(timers.now())), acquireTime: microTime(new Date(timers.now())), leaseTransitions: lease.spec.leaseTransitions } },
          });
          o.logger.info({ lease: `${o.namespace}/${o.name}` }, 'Released the lease');
        }
      } catch (err) {
        o.logger.warn({ lease: `${o.namespace}/${o.name}`, ...describeApiError(err) }, 'Failed to release the lease');
      }
    },
  };
}
