// How long and how hard each part runs: the full run (< 10 minutes) or BENCH_QUICK=1 (~1 minute).

export interface BenchPlan {
  quick: boolean;
  /** Interleaved rounds per comparison. */
  rounds: number;
  /** wrk connections. */
  connections: number;
  throughputSeconds: number;
  latencySeconds: number;
  /** Bytes of the bulk transfer (100 MB). */
  bulkBytes: number;
  /** Requests per second of the 1 KB probe during / without the bulk transfer. */
  probeRate: number;
  /** Apply → routed repetitions on the local cluster. */
  applyRounds: number;
  webhookRate: number;
  /** Intercept counts for the operator scale test. */
  scale: number[];
  scaleRounds: number;
  /** Section 6 (soak): churn run length, and when its first memory reading is taken. */
  soakSeconds: number;
  soakFirstReadingSeconds: number;
}

export function planBench(env: NodeJS.ProcessEnv): BenchPlan {
  const quick = env.BENCH_QUICK === '1';
  const plan: BenchPlan = quick
    ? { quick, rounds: 2, connections: 32, throughputSeconds: 2, latencySeconds: 2, bulkBytes: 100e6, probeRate: 100, applyRounds: 2, webhookRate: 200, scale: [500, 5000], scaleRounds: 1, soakSeconds: 75, soakFirstReadingSeconds: 15 }
    : { quick, rounds: 5, connections: 32, throughputSeconds: 4, latencySeconds: 4, bulkBytes: 100e6, probeRate: 200, applyRounds: 5, webhookRate: 300, scale: [1000, 10000], scaleRounds: 1, soakSeconds: 300, soakFirstReadingSeconds: 60 };
  // BENCH_SOAK_SECONDS=600: the first-vs-tenth-minute soak (the first reading stays at 60 s, 15 s quick).
  const soak = Number(env.BENCH_SOAK_SECONDS);
  if (Number.isFinite(soak) && soak > plan.soakFirstReadingSeconds) plan.soakSeconds = soak;
  return plan;
}
