// Small statistics helpers: percentiles, medians, and the "ratio over interleaved rounds" summary
// every figure of the benchmark is reported as.

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A figure measured in several interleaved rounds: the median and the spread (min–max) of the per-round values. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}

export function summarize(rounds: readonly number[]): Summary {
  const finite = rounds.filter((r) => Number.isFinite(r));
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), rounds: [...rounds] };
}

/** Per-round ratio a[i]/b[i], summarized. */
export function ratioOf(a: readonly number[], b: readonly number[]): Summary {
  return summarize(a.map((x, i) => x / b[i]!));
}

function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return 'n/a';
  const abs = Math.abs(n);
  if (abs >= 1000) return n.toFixed(0);
  if (abs >= 100) return n.toFixed(Math.min(digits, 1));
  return n.toFixed(digits);
}

export function fmtSummary(s: Summary, digits = 2, unit = ''): string {
  if (!Number.isFinite(s.median)) return 'n/a';
  if (s.rounds.length <= 1) return `${fmt(s.median, digits)}${unit}`;
  return `${fmt(s.median, digits)}${unit} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}
