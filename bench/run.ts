// `npm run bench`: every figure is a ratio measured side by side in one run (interleaved rounds,
// median, spread min–max), because the machine is shared and noisy. BENCH_QUICK=1 for a ~1 minute
// smoke; BENCH_ONLY=1,2,… to run some sections. Prints a table and writes bench/results/<date>.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchApplyToRouted } from './cluster.js';
import { ensureTools } from './ensure-tools.js';
import type { SectionResult } from './figures.js';
import { benchOperator } from './operator.js';
import { benchOutbound } from './outbound.js';
import { benchPassthrough } from './passthrough.js';
import { planBench } from './plan.js';
import { BENCH_DIR } from './processes.js';
import { benchSoak } from './soak.js';
import { fmtSummary } from './stats.js';
import { benchTunnel } from './tunnel.js';
import { benchWebhook } from './webhook.js';

const log = (line: string): void => { process.stderr.write(`${line}\n`); };

function table(results: SectionResult[]): string {
  const rows: string[][] = [['section', 'figure', 'median (min–max)', 'goal', 'note']];
  for (const s of results) {
    for (const f of s.figures) {
      rows.push([s.section, f.name, `${fmtSummary(f.value, 3)} ${f.unit}`.trim(), f.goal ? `${f.goal.text} ${f.goal.met ? 'met' : 'MISSED'}` : '', f.note ?? '']);
    }
    for (const n of s.notes) rows.push([s.section, `note: ${n}`, '', '', '']);
  }
  const widths = rows[0]!.map((_, i) => Math.min(i === 4 ? 200 : 60, Math.max(...rows.map((r) => r[i]!.length))));
  return rows.map((r, j) => {
    const line = r.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
    return j === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('-|-')}` : line;
  }).join('\n');
}

async function main(): Promise<void> {
  const plan = planBench(process.env);
  const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;
  const started = Date.now();
  log(`Detour benchmark (${plan.quick ? 'quick' : 'full'}: ${plan.rounds} interleaved rounds per comparison) on ${cpus().length} CPUs`);
  const tools = ensureTools(log);
  for (const m of tools.missing) log(`  ${m}`);
  const sections: Array<[string, () => Promise<SectionResult>]> = [
    ['1', () => benchPassthrough(plan, tools, log)],
    ['2', () => benchTunnel(plan, tools, log)],
    ['3', () => benchApplyToRouted(plan, log)],
    ['4', () => benchWebhook(plan, log)],
    ['5', () => benchOperator(plan, log)],
    ['6', () => benchSoak(plan, log)],
    ['7', () => benchOutbound(plan, tools, log)],
  ];
  const results: SectionResult[] = [];
  for (const [id, run] of sections) {
    if (only && !only.has(id)) continue;
    const t = Date.now();
    log(`[${id}/${sections.length}] running…`);
    try {
      results.push(await run());
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log(`[${id}/${sections.length}] failed: ${message}`);
      results.push({ section: id, figures: [], notes: [`failed: ${message.slice(0, 300)}`], raw: {} });
    }
    log(`[${id}/${sections.length}] took ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
  const out = table(results);
  process.stdout.write(`\n${out}\n\n`);
  const goals = results.flatMap((s) => s.figures.filter((f) => f.goal));
  process.stdout.write(`Goals met: ${goals.filter((g) => g.goal!.met).length}/${goals.length}. Total ${((Date.now() - started) / 1000).toFixed(0)} s.\n`);
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\..*/, '');
  const file = join(dir, `${stamp}${plan.quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify({
    date: new Date().toISOString(), plan, machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
    tools: { nginx: tools.nginx, wrk: tools.wrk, missing: tools.missing }, durationSeconds: (Date.now() - started) / 1000,
    sections: results,
  }, null, 1)}\n`);
  process.stdout.write(`Wrote ${file}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
