// The CLI's reconnect loop for one tunnel (one replica, or one --via URL): connect, serve until the
// tunnel ends, then reconnect with full-jitter backoff, saying on the screen what happened each time.
// Never gives up on its own: a refused token (403) re-reads the Secret and retries (the operator may
// have re-minted it), the sidecar's tunnel limits (429/503) and network errors are retried, and a
// sidecar without a common tunnel protocol (426) is retried too, with the message that says which
// side to upgrade (a pod restart brings a new sidecar). It ends when stopped.

import type { Tunnel, TunnelRequestEvent } from '../core/tunnel/developer.js';
import { CLOSE } from '../core/tunnel/protocol.js';
import { TunnelProtocolError, TunnelRefusedError } from '../core/tunnel/tunnel-websocket.js';
import { formatDurationMs } from './format.js';
import { backoffDelay } from '../core/backoff.js';
import { sleep } from '../core/sleep.js';
import { describeRefusal, TUNNEL_BACKOFF } from './tunnel-plan.js';

export interface TunnelScreen {
  info(line: string): void;
  warn(line: string): void;
}

export interface KeepTunnelOptions {
  /** The pod (or --via URL) named on the screen. */
  label: string;
  /** Opens one tunnel (connectTunnel with the current token). */
  connect: (onRequest: (e: TunnelRequestEvent) => void) => Promise<Tunnel>;
  onRequest: (e: TunnelRequestEvent) => void;
  screen: TunnelScreen;
  random: () => number;
  /** The token may have been re-minted: read the Secret again. */
  refreshToken: () => void;
  onConnected?: () => void;
  onDisconnected?: () => void;
  /** How to restart the workload's pods, shown when the sidecar is too old (`kubectl rollout restart …`). */
  restartHint?: string;
}

export interface KeptTunnel {
  /** Requests in flight on the current tunnel. */
  inFlight(): number;
  /** The tunnel connected right now, if any. */
  readonly current: Tunnel | undefined;
  /** Stops reconnecting, drains the current tunnel (in-flight requests finish within drainMs), closes it. */
  stop(drainMs?: number): Promise<void>;
}

export function keepTunnel(o: KeepTunnelOptions): KeptTunnel {
  const { label, screen } = o;
  const halted = new AbortController();
  let current: Tunnel | undefined;
  const loop = async (): Promise<void> => {
    let attempt = 0;
    while (!halted.signal.aborted) {
      let delay: number;
      try {
        current = await o.connect(o.onRequest);
        if (halted.signal.aborted) { await current.close(); break; }
        attempt = 0;
        o.onConnected?.();
        screen.info(`Connected tunnel to ${label}`);
        const info = await current.closed;
        current = undefined;
        o.onDisconnected?.();
        if (halted.signal.aborted) break;
        if (info.code === CLOSE.revoked) o.refreshToken();
        delay = backoffDelay(0, { ...TUNNEL_BACKOFF, random: o.random });
        screen.warn(`Lost tunnel to ${label} (${info.code}${info.reason ? ` ${info.reason}` : ''}); reconnecting in ${formatDurationMs(delay)}`);
      } catch (err) {
        current = undefined;
        if (halted.signal.aborted) break;
        delay = backoffDelay(attempt, { ...TUNNEL_BACKOFF, random: o.random });
        attempt++;
        if (err instanceof TunnelProtocolError) {
          const hint = err.upgrade === 'sidecar' && o.restartHint ? ` (${o.restartHint})` : '';
          screen.warn(`Tunnel to ${label} refused: ${err.reason}${hint}; retrying in ${formatDurationMs(delay)}`);
        } else if (err instanceof TunnelRefusedError) {
          const refusal = describeRefusal(err.status, err.reason);
          if (refusal.refreshToken) o.refreshToken();
          screen.warn(`Tunnel to ${label} refused: ${refusal.message}; retrying in ${formatDurationMs(delay)}`);
        } else {
          const e = err as NodeJS.ErrnoException;
          screen.warn(`Cannot open tunnel to ${label} (${e.code ?? e.message}); retrying in ${formatDurationMs(delay)} (attempt ${attempt})`);
        }
      }
      await sleep(delay, halted.signal);
    }
  };
  const done = loop();
  return {
    inFlight: () => current?.activeStreams ?? 0,
    get current() { return current; },
    stop: async (drainMs) => {
      halted.abort();
      await current?.close(drainMs === undefined ? {} : { drainMs });
      await done;
    },
  };
}
