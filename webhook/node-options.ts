// V8 heap limits for the injected sidecar, derived from its container's memory limit. Pure.
//
// Left to itself V8 sizes its heap for a machine, not a container: the young generation grows to
// its 3 × 16 MiB ceiling under a proxy's allocation rate (one request allocates a few KB that die
// at once) and the old space grows lazily, so a busy sidecar's RSS climbed from 71 to 99 MiB in five
// minutes against a 128 Mi limit. A kubelet OOM-kill would take the pod's traffic down. With a
// limit, NODE_OPTIONS caps both: semi-space = limit / 32 (1 … 16 MiB; the young generation is at
// most 3 semi-spaces), old space = 40 % of the limit (at least 16 MiB); what is left (~50 MiB at
// 128 Mi) is Node's code, native memory (nghttp2, OpenSSL, libuv) and Buffers outside the heap.
// Without a memory limit nothing is set. See docs/sidecar.md, "Memory".

const UNITS: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** Bytes of a Kubernetes memory quantity (`128Mi`, `1G`, `134217728`, `1e9`), or undefined. */
export function parseMemoryQuantity(quantity: string | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?)(?:([eE][0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E))?$/.exec(quantity.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * (m[2] ? 10 ** Number(m[2].slice(1)) : UNITS[m[3] ?? '']!);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : undefined;
}

export interface NodeHeapLimits {
  semiSpaceMiB: number;
  oldSpaceMiB: number;
}

const MiB = 2 ** 20;

/** The V8 limits for a sidecar whose container may use `limitBytes`. */
export function planNodeHeapLimits(limitBytes: number): NodeHeapLimits {
  const limitMiB = limitBytes / MiB;
  return {
    semiSpaceMiB: Math.min(16, Math.max(1, Math.floor(limitMiB / 32))),
    oldSpaceMiB: Math.max(16, Math.floor(limitMiB * 0.4)),
  };
}

/** NODE_OPTIONS for the sidecar container, or undefined when it has no (valid) memory limit. */
export function buildSidecarNodeOptions(memoryLimit: string | undefined): string | undefined {
  const bytes = parseMemoryQuantity(memoryLimit);
  if (bytes === undefined) return undefined;
  const l = planNodeHeapLimits(bytes);
  return `--max-semi-space-size=${l.semiSpaceMiB} --max-old-space-size=${l.oldSpaceMiB}`;
}
