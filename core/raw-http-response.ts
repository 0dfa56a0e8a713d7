// The one raw HTTP/1.1 error writer, for the places that answer on a socket before (or instead of)
// any http.ServerResponse exists: refused upgrades (tunnel, control channel), the sidecar's framing
// refusals. Plain text, the reason repeated in a header for clients that show no body, and the
// connection closed.

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export interface RawResponseOptions {
  /** The header that repeats the reason (the sidecar's `X-Detour-Reason`); none when absent. */
  reasonHeader?: string;
}

/** The bytes of a `Connection: close` plain-text response; CR and LF in `reason` become spaces. */
export function buildRawResponse(status: number, reason: string, options: RawResponseOptions = {}): string {
  const line = reason.replace(/[\r\n]/g, ' ');
  const body = `${line}\n`;
  const reasonLine = options.reasonHeader ? `${options.reasonHeader}: ${line}\r\n` : '';
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\n${reasonLine}`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** Writes `buildRawResponse` and ends the socket (no-op on a destroyed socket). */
export function writeRawResponse(socket: Duplex, status: number, reason: string, options: RawResponseOptions = {}): void {
  if (socket.destroyed) return;
  socket.end(buildRawResponse(status, reason, options));
}
