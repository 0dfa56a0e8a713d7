// Pure decisions of the tunnel loops: how long to wait before the next attempt, and what a refused
// upgrade means (the sidecar's 401/403, or the API server's own refusal of the pod proxy).

import type { BackoffOptions } from '../core/backoff.js';

/**
 * The tunnels' reconnect backoff (core/backoff.ts with the caller's `random`: full jitter): up to
 * min(15 s, 500 ms·2^attempt), never under 100 ms.
 */
export const TUNNEL_BACKOFF: Readonly<Omit<BackoffOptions, 'random'>> = { initialMs: 500, maxMs: 15_000, minMs: 100 };

export interface Refusal {
  message: string;
  /** The token may have been re-minted: read the Secret again. */
  refreshToken: boolean;
}

/**
 * `reason` is the sidecar's `X-Detour-Reason` when the sidecar refused, or the API server's body
 * (a Status JSON) when the API server refused the pod proxy request itself.
 */
export function describeRefusal(status: number, reason: string): Refusal {
  let apiMessage: string | undefined;
  try {
    const parsed = JSON.parse(reason) as { kind?: string; message?: string };
    if (parsed.kind === 'Status') apiMessage = parsed.message ?? '';
  } catch { /* the sidecar's plain reason */ }
  if (apiMessage !== undefined) {
    if (status === 403) return { message: `the API server does not let you open the pod proxy (403): ${apiMessage}. Ask for "get" on "pods/proxy" (the tunnel is a WebSocket upgrade, a GET)`, refreshToken: false };
    if (status === 401) return { message: 'the API server did not accept your credentials (401)', refreshToken: false };
    return { message: `the API server answered ${status}: ${apiMessage}`, refreshToken: false };
  }
  if (status === 403) return { message: `the sidecar does not route this Intercept with this token (yet) — ${reason}`, refreshToken: true };
  if (status === 401) return { message: `the sidecar saw no token — ${reason}`, refreshToken: false };
  return { message: `HTTP ${status} — ${reason}`, refreshToken: false };
}
