// A manager in the shape of controller-runtime's: it starts the servers that run on every replica
// (health, metrics, the control channel), runs leader election, and runs the leader runnables
// (controllers) only while this replica leads. Losing the lease aborts the runnables' signal; a
// graceful stop releases the lease, waits for the runnables, then closes the servers.

import type { Logger } from '../../core/logging.js';
import type { KubeClient } from '../../core/kube/client.js';
import { startLeaderElection, type LeaderElectionOptions, type LeaderElector } from './leader-election.js';
import type { RuntimeMetrics } from './metrics.js';

/** Runs on every replica, leader or not. */
export interface Server {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** One leadership term, as a leader runnable sees it. */
export interface Leadership {
  /** Aborts when this replica stops leading (lost lease, renew deadline, stop). */
  signal: AbortSignal;
  /** The Lease's leaseTransitions when this replica took it. */
  term: number;
}

/** Runs only while leading: `run` resolves once its work stopped after `signal` aborted. */
export interface LeaderRunnable {
  name: string;
  run(leadership: Leadership): Promise<void>;
}

/** A leader runnable that builds a fresh controller for each leadership term and runs it until the term ends. */
export function controllerRunnable(name: string, build: (leadership: Leadership) => { run(signal: AbortSignal): Promise<void> }): LeaderRunnable {
  return { name, run: (leadership) => build(leadership).run(leadership.signal) };
}

export interface ManagerOptions {
  client: KubeClient;
  logger: Logger;
  metrics?: RuntimeMetrics;
  leaderElection: Omit<LeaderElectionOptions, 'client' | 'logger' | 'onStartedLeading' | 'onStoppedLeading'>;
  /** Started in order before leader election; stopped in reverse order last. */
  servers: readonly Server[];
  runnables: readonly LeaderRunnable[];
}

export class Manager {
  private elector: LeaderElector | undefined;
  private readonly running = new Set<Promise<void>>();
  private readonly started: Server[] = [];

  constructor(private readonly o: ManagerOptions) {}

  async start(): Promise<void> {
    try {
      for (const s of this.o.servers) {
        await s.start();
        this.started.push(s);
      }
    } catch (err) {
      await this.stopServers();
      throw err;
    }
    const name = this.o.leaderElection.name;
    this.elector = startLeaderElection({
      ...this.o.leaderElection,
      client: this.o.client,
      logger: this.o.logger,
      onStartedLeading: (signal, term) => {
        this.o.metrics?.leader.set({ name }, 1);
        for (const r of this.o.runnables) this.track(r, { signal, term });
      },
      onStoppedLeading: () => this.o.metrics?.leader.set({ name }, 0),
    });
  }

  isLeader(): boolean {
    return this.elector?.isLeader() ?? false;
  }

  async stop(): Promise<void> {
    await this.elector?.stop();
    await Promise.all(this.running);
    await this.stopServers();
  }

  private track(r: LeaderRunnable, leadership: Leadership): void {
    const p = r.run(leadership).catch((err: unknown) => {
      this.o.logger.error({ runnable: r.name, err: err instanceof Error ? err.message.split('\n')[0] : String(err) }, 'Leader runnable failed');
    }).finally(() => this.running.delete(p));
    this.running.add(p);
  }

  private async stopServers(): Promise<void> {
    for (const s of this.started.splice(0).reverse()) {
      try {
        await s.stop();
      } catch (err) {
        this.o.logger.warn({ server: s.name, err: err instanceof Error ? err.message.split('\n')[0] : String(err) }, 'Failed to stop server');
      }
    }
  }
}
