// Process CPU time and memory from /proc (Linux): what a proxy process costs, measured from outside.

import { readFileSync, readdirSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime + stime of one process, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3, utime field 14, stime field 15 (1-based).
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Resident set size of one process, in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Direct children of a process (nginx master → worker). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    } catch { /* task gone */ }
  }
  return out;
}

export function sumOver(pids: readonly number[], f: (pid: number) => number): number {
  let total = 0;
  for (const p of pids) {
    try { total += f(p); } catch { /* gone */ }
  }
  return total;
}

/** Samples the summed RSS of `pids` every `intervalMs` until stopped; returns the peak. */
export function sampleRss(pids: () => readonly number[], intervalMs = 100): { stop(): number } {
  let peak = 0;
  const tick = (): void => { peak = Math.max(peak, sumOver(pids(), rssBytes)); };
  tick();
  const timer = setInterval(tick, intervalMs);
  return { stop() { clearInterval(timer); tick(); return peak; } };
}
