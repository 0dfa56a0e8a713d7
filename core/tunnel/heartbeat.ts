// WebSocket liveness, the one definition for every Detour WebSocket (tunnels, outbound, the
// sidecar's control channel): ping every interval, terminate a peer that did not answer the last one.

import type WebSocket from 'ws';

/**
 * Pings the peer every `intervalMs` and terminates the WebSocket when no pong came back since the
 * previous ping. Returns a stop function (also called automatically on close).
 */
export function startHeartbeat(ws: WebSocket, intervalMs: number, onTimeout?: () => void): () => void {
  let alive = true;
  const onPong = (): void => { alive = true; };
  ws.on('pong', onPong);
  const timer = setInterval(() => {
    if (!alive) {
      onTimeout?.();
      ws.terminate();
      return;
    }
    alive = false;
    try { ws.ping(); } catch { /* closing */ }
  }, intervalMs);
  timer.unref();
  const stop = (): void => { clearInterval(timer); ws.off('pong', onPong); };
  ws.once('close', stop);
  return stop;
}
