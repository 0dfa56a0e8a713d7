// Per-intercept counters for the operator's ReportMessage (clients come from the tunnel registry).

import type { InterceptReport } from '../core/control/protocol.js';

export class InterceptStats {
  private readonly counts = new Map<string, { routed: number; fallback: number }>();

  private entry(intercept: string): { routed: number; fallback: number } {
    let e = this.counts.get(intercept);
    if (e === undefined) { e = { routed: 0, fallback: 0 }; this.counts.set(intercept, e); }
    return e;
  }

  routed(intercept: string): void { this.entry(intercept).routed++; }
  fallback(intercept: string): void { this.entry(intercept).fallback++; }

  /** Intercepts with counts. */
  intercepts(): string[] { return [...this.counts.keys()]; }

  /** Drops the counts of an intercept that is gone (a new one with the same name starts at 0). */
  forget(intercept: string): void { this.counts.delete(intercept); }

  /** Report for the given intercepts (those in the table) plus any with connected clients. */
  snapshot(intercepts: Iterable<string>, clients: ReadonlyMap<string, number>): Record<string, InterceptReport> {
    const out: Record<string, InterceptReport> = {};
    const all = new Set<string>(intercepts);
    for (const i of clients.keys()) all.add(i);
    for (const i of [...all].sort()) {
      const e = this.counts.get(i);
      out[i] = { clients: clients.get(i) ?? 0, routed: e?.routed ?? 0, fallback: e?.fallback ?? 0 };
    }
    return out;
  }
}
