// Small HTTP/1 answers and facts shared by the sidecar's HTTP/1 paths (app, developer, upgrades):
// Detour's own plain-text errors (the reason repeated in X-Detour-Reason), whether a request has a
// body, and a raw header block for answers written straight to a socket.

import type { ServerResponse, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type net from 'node:net';
import { writeRawResponse as writeRaw } from '../core/raw-http-response.js';

/** How a forwarded request ended; `detail` says why it failed (for the log, never for the client). */
export type Done = (ok: boolean, detail?: string) => void;

/** A plain-text error written straight to the socket (no ServerResponse exists), then closed. */
export function writeRawResponse(socket: net.Socket, status: number, reason: string): void {
  writeRaw(socket, status, reason, { reasonHeader: 'X-Detour-Reason' });
}

export function failHttp1(res: ServerResponse, status: number, reason: string, options: { close?: boolean } = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  if (res.destroyed) return;
  const body = `${reason}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8', 'x-detour-reason': reason, 'content-length': Buffer.byteLength(body),
    ...(options.close ? { connection: 'close' } : {}),
  });
  res.end(body);
}

/** Whether an HTTP/1 request carries a body (RFC 9112 §6.3: Transfer-Encoding or a non-zero Content-Length). */
export function requestHasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const len = req.headers['content-length'];
  return len !== undefined && len !== '0';
}

export function rawHeaderBlock(first: string, headers: OutgoingHttpHeaders): string {
  let out = `${first}\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out += `${k}: ${String(one).replace(/[\r\n]/g, ' ')}\r\n`;
  }
  return `${out}\r\n`;
}
