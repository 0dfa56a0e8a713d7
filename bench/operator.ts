// Item 5 (main side): runs bench/operator-scale.ts once per size per round, each in a fresh process
// (memory figures stay clean), interleaving the sizes. Runs that do not converge within the cap
// report how far they got; the 10k/1k figure is then projected from the cost per reconcile.

import { goalAtMost, figureList, type SectionResult } from './figures.js';
import type { BenchPlan } from './plan.js';
import { runRole } from './processes.js';
import { summarize } from './stats.js';

export interface ScaleResult {
  n: number; echo: boolean; finished: boolean; cpuSeconds: number; perWorkload: number; replicas: number; workloads: number; routed: number;
  coldMs: number; warmMs: number; coldReconciles: number; warmReconciles: number; errors: number; conflicts: number; tablesSent: number;
  operatorHeapBytes: number; rssBytes: number; rssDeltaBytes: number; apiCalls: Record<string, number>;
}

export async function benchOperator(plan: BenchPlan, log: (l: string) => void): Promise<SectionResult> {
  const section = '5 operator';
  const notes: string[] = [];
  const capMs = plan.quick ? 20_000 : 60_000;
  const [small, large] = plan.scale as [number, number];
  const runs: Record<number, ScaleResult[]> = { [small]: [], [large]: [] };
  for (let round = 0; round < plan.scaleRounds; round++) {
    for (const n of round % 2 === 0 ? [small, large] : [large, small]) {
      const [r] = await runRole<ScaleResult>('operator-scale', { n, echo: false, capMs }, capMs + 120_000, ['--expose-gc', '--max-old-space-size=4096']);
      runs[n]!.push(r!);
      log(`  operator ${n}: ${r!.finished ? 'converged' : `NOT converged within ${capMs / 1000} s`} after ${(r!.coldMs / 1000).toFixed(1)} s, ${r!.coldReconciles} reconciles, ${r!.routed}/${n} routed; resync ${Number.isFinite(r!.warmMs) ? `${(r!.warmMs / 1000).toFixed(2)} s` : 'skipped'}`);
    }
  }
  const { figures, add } = figureList(section);
  const perReconcileUs = (r: ScaleResult) => (r.coldMs * 1000) / r.coldReconciles;
  for (const n of [small, large]) {
    const rs = runs[n]!;
    const done = rs.filter((r) => r.finished);
    if (done.length > 0) {
      add(`${n} Intercepts: first pass to converged`, summarize(done.map((r) => r.coldMs / 1000)), 's', `${summarize(done.map((r) => r.coldReconciles / n)).median.toFixed(1)} reconciles per Intercept; ${summarize(done.map((r) => r.cpuSeconds)).median.toFixed(1)} CPU s`);
      add(`${n} Intercepts: resync (all unchanged)`, summarize(done.map((r) => r.warmMs / 1000)), 's');
    } else {
      add(`${n} Intercepts: first pass`, summarize(rs.map((r) => r.coldMs / 1000)), 's', `did not converge within the ${capMs / 1000} s cap: ${summarize(rs.map((r) => r.coldReconciles)).median} reconciles done, ${summarize(rs.map((r) => r.routed)).median}/${n} routed`);
    }
    add(`${n} Intercepts: cost per reconcile`, summarize(rs.map(perReconcileUs)), 'µs', 'wall time / reconciles (including queue and in-memory API)');
    add(`${n} Intercepts: operator heap`, summarize(rs.map((r) => r.operatorHeapBytes / 2 ** 20)), 'MiB', `heap after the pass minus heap with only the in-memory API's objects; process RSS ${(summarize(rs.map((r) => r.rssBytes)).median / 2 ** 20).toFixed(0)} MiB`);
  }
  const a = runs[small]!;
  const b = runs[large]!;
  const allDone = a.every((r) => r.finished) && b.every((r) => r.finished);
  if (allDone) {
    const ratio = summarize(b.map((r, i) => r.coldMs / a[i]!.coldMs));
    add(`reconcile time ${large}/${small}`, ratio, 'x', 'first pass to converged', goalAtMost(ratio.median, 12));
    add(`resync time ${large}/${small}`, summarize(b.map((r, i) => r.warmMs / a[i]!.warmMs)), 'x');
  } else {
    // Projection: reconciles per Intercept as at the smaller size, at the larger size's measured cost per reconcile.
    const ratio = summarize(b.map((r, i) => {
      const perIntercept = a[i]!.coldReconciles / small;
      return (perIntercept * large * perReconcileUs(r)) / 1000 / a[i]!.coldMs;
    }));
    add(`reconcile time ${large}/${small} (projected)`, ratio, 'x', `the ${large} run hit the cap; projected = reconciles per Intercept at ${small} × ${large} × cost per reconcile at ${large}`, goalAtMost(ratio.median, 12));
    notes.push(`${large} Intercepts did not converge within ${capMs / 1000} s: the 10k/1k figure is a projection`);
  }
  add(`cost per reconcile ${large}/${small}`, summarize(b.map((r, i) => perReconcileUs(r) / perReconcileUs(a[i]!))), 'x', 'flat would mean O(1) per reconcile');
  // Once more per size with a realistic API: writes echoed as watch events, stale writes rejected
  // with 409 (the cache lags the operator's own writes, as with a real API server).
  const echoed: Record<number, ScaleResult> = {};
  for (const n of [small, large]) {
    const [r] = await runRole<ScaleResult>('operator-scale', { n, echo: true, capMs }, capMs + 120_000, ['--expose-gc', '--max-old-space-size=4096']);
    echoed[n] = r!;
    log(`  operator ${n} (echoed writes): ${r!.finished ? 'converged' : `NOT converged within ${capMs / 1000} s`} after ${(r!.coldMs / 1000).toFixed(1)} s, ${r!.coldReconciles} reconciles, ${r!.conflicts} conflicts (409), ${r!.errors} errors`);
    const one = (v: number) => summarize([v]);
    add(`${n} Intercepts, echoed writes: first pass${r!.finished ? ' to converged' : ' (cap hit)'}`, one(r!.coldMs / 1000), 's', `${(r!.coldReconciles / n).toFixed(1)} reconciles per Intercept, ${r!.conflicts} of them 409 conflicts, ${r!.errors} other errors`);
  }
  if (echoed[small]!.finished && echoed[large]!.finished) add(`echoed writes: reconcile time ${large}/${small}`, summarize([echoed[large]!.coldMs / echoed[small]!.coldMs]), 'x', 'first pass to converged, one round');
  notes.push('In-memory API server (writes answered at once, not echoed as watch events, unless the figure says echoed writes); 10 Intercepts per Deployment, 2 connected in-memory sidecars per Deployment acknowledging every table.');
  return { section, figures, notes, raw: { ...runs, echoed } };
}
