// The one backoff: capped exponential, optionally with full jitter. Every retry loop in Detour (the
// operator's workqueue and informers, the sidecar's control client, the CLI's tunnels) uses it.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** With a source of randomness in [0, 1): full jitter, a delay anywhere in [0, ceiling). */
  random?: () => number;
  /** A floor under the (jittered) delay. */
  minMs?: number;
}

/** The delay before retry number `attempt` (0 = the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  const delay = options.random ? Math.floor(options.random() * ceiling) : ceiling;
  return Math.max(options.minMs ?? 0, delay);
}
