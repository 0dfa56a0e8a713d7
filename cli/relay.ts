// Joins a local client socket and an outbound stream: bytes both ways with backpressure (pipe),
// half-close passed on, and an error on either side ends the other (a reset for the local client,
// so it sees "connection reset" rather than a clean end of a truncated transfer).

import type net from 'node:net';
import type { Duplex } from 'node:stream';

export function relay(local: net.Socket, remote: Duplex): void {
  let failed = false;
  const resetLocal = (): void => {
    if (failed) return;
    failed = true;
    if (!local.destroyed) local.resetAndDestroy();
  };
  remote.on('error', resetLocal);
  // An HTTP/2 stream reset by the sidecar (CONNECT_ERROR) or a tunnel that died closes without 'end'.
  remote.on('close', () => { if (!remote.readableEnded) resetLocal(); else if (!local.destroyed) local.end(); });
  local.on('error', () => remote.destroy());
  local.on('close', () => { if (!remote.destroyed) remote.destroy(); });
  remote.pipe(local);
  local.pipe(remote);
}
