// Item 3 (main side): runs bench/intercept-latency.ts in its own process (it starts and stops a
// whole local cluster) and turns its rounds into figures.

import { goalAtMost, figureList, type SectionResult } from './figures.js';
import type { BenchPlan } from './plan.js';
import { runRole } from './processes.js';
import { median, summarize } from './stats.js';

interface Round { round: number; kubectlMs: number; routedMs?: number; developerMs?: number; tokenMs: number; tunnelMs: number; polls: number }

export async function benchApplyToRouted(plan: BenchPlan, log: (l: string) => void): Promise<SectionResult> {
  const section = '3 apply → routed';
  if (process.getuid?.() !== 0) return { section, figures: [], notes: ['skipped: the local cluster needs root (network namespaces)'], raw: {} };
  log('  starting a local cluster (control plane + test node); this takes a while');
  const lines = await runRole<Round | { plainMs: number[] }>('intercept-latency', { rounds: plan.applyRounds }, 300_000);
  const rounds = lines.filter((l): l is Round => 'round' in l);
  const plain = lines.find((l): l is { plainMs: number[] } => 'plainMs' in l)?.plainMs ?? [];
  const plainMs = median(plain);
  const { figures, add } = figureList(section);
  add('one plain request (pod, via sidecar)', summarize([plainMs]), 'ms', `median of ${plain.length} keep-alive requests`);
  const routed = summarize(rounds.map((r) => r.routedMs ?? NaN));
  add('kubectl apply → sidecar routes', summarize(routed.rounds.map((v) => v / 1000)), 's', 'first matching request answered by the new route (503: no developer yet)', goalAtMost(routed.median / 1000, 1));
  add('kubectl apply → developer answers', summarize(rounds.map((r) => (r.developerMs ?? NaN) / 1000)), 's', `token Secret read at ${median(rounds.map((r) => r.tokenMs)).toFixed(0)} ms, tunnel up at ${median(rounds.map((r) => r.tunnelMs)).toFixed(0)} ms`);
  add('kubectl apply itself (process exit)', summarize(rounds.map((r) => r.kubectlMs / 1000)), 's');
  add('apply → routed / one plain request', summarize(rounds.map((r) => (r.routedMs ?? NaN) / plainMs)), 'x');
  return { section, figures, notes: ['Real control plane and test node; operator and webhook in-process (not the Helm chart); the sidecar runs in the pod.'], raw: { rounds, plainMs: plain } };
}
