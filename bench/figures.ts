// The result model: every figure is a summary over interleaved rounds, with an optional goal.

import type { Summary } from './stats.js';

export interface Goal {
  /** Human-readable goal, e.g. "≤ 1.5". */
  text: string;
  met: boolean;
}

export interface Figure {
  section: string;
  name: string;
  value: Summary;
  unit: string;
  /** What the figure means, one line. */
  note?: string;
  goal?: Goal;
}

export interface SectionResult {
  section: string;
  figures: Figure[];
  /** Raw per-round measurements, for the JSON file. */
  raw: Record<string, unknown>;
  notes: string[];
}

export function goalAtMost(value: number, limit: number): Goal {
  return { text: `≤ ${limit}`, met: value <= limit };
}

export function goalAtLeast(value: number, limit: number): Goal {
  return { text: `≥ ${limit}`, met: value >= limit };
}

/** A section's figure list and the one way to add to it. */
export function figureList(section: string): { figures: Figure[]; add(name: string, value: Summary, unit: string, note?: string, goal?: Goal): void } {
  const figures: Figure[] = [];
  return { figures, add: (name, value, unit, note, goal) => { figures.push({ section, name, value, unit, note, goal }); } };
}
