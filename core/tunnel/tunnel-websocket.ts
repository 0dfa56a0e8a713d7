// Opening an authenticated tunnel WebSocket (the upgrade, the token, refusals as
// TunnelRefusedError). Used by the inbound end (developer.ts connectTunnel) and the outbound end.

import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { explainProtocolMismatch, parseProtocolList, type Upgrade } from './negotiation.js';
import { PROTOCOLS_HEADER, TUNNEL_MAX_MESSAGE_BYTES, TUNNEL_REASON_HEADER, TUNNEL_TOKEN_HEADER } from './protocol.js';

export interface TunnelWebSocketOptions {
  /** ws:// or wss:// URL (direct, port-forwarded or pod proxy). */
  url: string;
  /** The Intercept's token; sent only in the upgrade request, never logged. */
  token: string;
  tokenHeader?: 'authorization' | 'x-detour-token';
  headers?: Record<string, string>;
  webSocketOptions?: WebSocket.ClientOptions;
}

/** The sidecar refused the tunnel (401: no token, 403: token matches no intercept on that pod). */
export class TunnelRefusedError extends Error {
  constructor(readonly status: number, readonly reason: string) {
    super(`tunnel refused with ${status}: ${reason}`);
    this.name = 'TunnelRefusedError';
  }
}

/**
 * The sidecar speaks no tunnel protocol this CLI offered (status 426). `upgrade` says which side has
 * to move; the message says it in words (core/tunnel/negotiation.ts).
 */
export class TunnelProtocolError extends TunnelRefusedError {
  constructor(readonly upgrade: Upgrade, message: string) {
    super(426, message);
    this.name = 'TunnelProtocolError';
    this.message = message;
  }
}

// What `ws` says when the server completed the handshake without one of the offered subprotocols.
const NO_COMMON_SUBPROTOCOL = /^Server sent (no|an invalid) subprotocol/;

/**
 * Client-to-server WebSocket masking (RFC 6455 §5.3, §10.3) exists so that client bytes cannot be
 * read as HTTP by an intermediary that sees the cleartext and does not understand WebSocket. Over
 * loopback (the local end of a port-forward) there can be no intermediary, so the CLI sends an
 * all-zero masking key there, which `ws` skips (masking every byte in JS, without the optional
 * `bufferutil`, was half the developer end's CPU on a bulk download). Everything else keeps a
 * random key per message, including wss: — a TLS-terminating proxy may not understand WebSocket.
 * The frames stay valid either way: the sidecar unmasks with whatever key the frame carries.
 */
export function maskingProtectsNothing(url: string): boolean {
  let u: URL;
  try { u = new URL(url); } catch { return false; }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/**
 * Resolves with the open WebSocket (`ws.protocol`: the subprotocol the sidecar chose among
 * `subprotocols`, newest first); rejects with TunnelRefusedError (401/403/404/429/503 + reason),
 * TunnelProtocolError (no common subprotocol) or a network error.
 */
export function openTunnelWebSocket(options: TunnelWebSocketOptions, subprotocols: readonly string[]): Promise<WebSocket> {
  const headers: Record<string, string> = { ...options.headers };
  if ((options.tokenHeader ?? 'authorization') === 'authorization') headers.authorization = `Bearer ${options.token}`;
  else headers[TUNNEL_TOKEN_HEADER] = options.token;
  const ws = new WebSocket(options.url, [...subprotocols], {
    perMessageDeflate: false,
    maxPayload: TUNNEL_MAX_MESSAGE_BYTES,
    handshakeTimeout: 15_000,
    ...(maskingProtectsNothing(options.url) ? { generateMask: zeroMask } : {}),
    ...options.webSocketOptions,
    headers: { ...options.webSocketOptions?.headers, ...headers },
  });
  return new Promise<WebSocket>((resolve, reject) => {
    let settled = false;
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { if (body.length < 1024) body += c; });
      res.on('end', () => {
        const header = res.headers[TUNNEL_REASON_HEADER];
        const reason = (typeof header === 'string' ? header : body.trim()) || (res.statusMessage ?? 'refused');
        settled = true;
        const speaks = res.headers[PROTOCOLS_HEADER];
        if (status === 426 && speaks !== undefined) {
          const { upgrade, message } = explainProtocolMismatch(subprotocols, parseProtocolList(speaks));
          reject(new TunnelProtocolError(upgrade, message));
        } else {
          reject(new TunnelRefusedError(status, reason.slice(0, 300)));
        }
        ws.terminate();
      });
      res.on('error', () => { /* reported via reject above or close */ });
    });
    ws.once('error', (err) => {
      if (settled) return;
      settled = true;
      if (NO_COMMON_SUBPROTOCOL.test(err.message)) {
        // A sidecar from before negotiation: it accepted the upgrade without any subprotocol we offered.
        const { upgrade, message } = explainProtocolMismatch(subprotocols, undefined);
        reject(new TunnelProtocolError(upgrade, message));
        return;
      }
      reject(err);
    });
    // Paused until the caller wraps it (webSocketDuplex resumes on its first read): the peer's first
    // HTTP/2 frames may arrive with the upgrade response, before a promise continuation could listen.
    ws.once('open', () => { settled = true; ws.pause(); resolve(ws); });
  });
}
