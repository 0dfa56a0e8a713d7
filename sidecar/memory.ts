// What the sidecar's memory is made of, for /debug/memory on the admin port: process RSS, V8 heap
// totals and spaces, and the configured heap limit. With `collect` and a process started with
// --expose-gc (benchmarks only; the webhook never sets it) a full GC runs first, so `heapUsed` is
// the heap that survives: what a leak makes grow.

import v8 from 'node:v8';

export interface MemoryReport {
  /** Whether a full GC ran just before the numbers were read. */
  collected: boolean;
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
  /** V8's limit for the whole heap (from --max-old-space-size and --max-semi-space-size). */
  heapLimitBytes: number;
  spaces: Array<{ name: string; sizeBytes: number; usedBytes: number }>;
}

export function readMemory(collect: boolean): MemoryReport {
  const gc = (globalThis as { gc?: () => void }).gc;
  const collected = collect && typeof gc === 'function';
  if (collected) gc!();
  const m = process.memoryUsage();
  return {
    collected,
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    heapTotalBytes: m.heapTotal,
    externalBytes: m.external,
    arrayBuffersBytes: m.arrayBuffers,
    heapLimitBytes: v8.getHeapStatistics().heap_size_limit,
    spaces: v8.getHeapSpaceStatistics().map((s) => ({ name: s.space_name, sizeBytes: s.space_size, usedBytes: s.space_used_size })),
  };
}
