// The developer end of outbound streams: opens TCP connections in the cluster through a sidecar.
//
//   const tunnel = await connectOutbound({ url: 'ws://127.0.0.1:15021/outbound', token });
//   const stream = await tunnel.open({ host: 'redis', port: 6379 }); // a Duplex once the pod connected
//   // rejects with OutboundError { code: 'dns' | 'refused' | … , reason }
//
//   const dialer = buildOutboundDialer({ connect: () => connectOutbound({ … }) });
//   await dialer.dial({ host, port }); // (re)connects the tunnel on demand; `tunnel` error while it is down
//
// One WebSocket carries one HTTP/2 connection with the developer as client; each connection is a
// CONNECT stream (see outbound-protocol.ts). When the tunnel drops, every open stream is destroyed
// with an error at once, so local clients see their connection reset, never a hang.

import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { connectH2OverWebSocket } from './h2-over-websocket.js';
import { startHeartbeat } from './heartbeat.js';
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import type { Logger } from '../logging.js';
import { formatOutboundTarget, OUTBOUND_ERROR_HEADER, OUTBOUND_SUBPROTOCOL, parseOutboundErrorCode, type OutboundErrorCode, type OutboundTarget } from './outbound-protocol.js';
import { CLOSE, TUNNEL_PING_INTERVAL_MS, TUNNEL_REASON_HEADER } from './protocol.js';
import { openTunnelWebSocket, type TunnelWebSocketOptions } from './tunnel-websocket.js';
import { webSocketDuplex } from './websocket-duplex.js';

/** An outbound connection that did not come about, with the reason to show the local client. */
export class OutboundError extends Error {
  constructor(readonly code: OutboundErrorCode, readonly reason: string) {
    super(reason);
    this.name = 'OutboundError';
  }
}

export interface ConnectOutboundOptions extends TunnelWebSocketOptions {
  logger?: Logger;
  pingIntervalMs?: number;
}

export interface OutboundTunnel {
  /** Opens one TCP connection from the pod; resolves once it is established. */
  open(target: OutboundTarget): Promise<Duplex>;
  readonly activeStreams: number;
  readonly isOpen: boolean;
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
  /** Drops the connection without a close handshake (as a lost network would). */
  terminate(): void;
}

export async function connectOutbound(options: ConnectOutboundOptions): Promise<OutboundTunnel> {
  const ws = await openTunnelWebSocket(options, [OUTBOUND_SUBPROTOCOL]);
  return serveOutbound(ws, options);
}

function serveOutbound(ws: WebSocket, options: ConnectOutboundOptions): OutboundTunnel {
  const duplex = webSocketDuplex(ws);
  const session: ClientHttp2Session = connectH2OverWebSocket(duplex);
  session.on('error', (err) => options.logger?.debug({ err: err.message }, 'Outbound HTTP/2 session failed'));
  session.on('close', () => { if (ws.readyState === ws.OPEN) ws.close(CLOSE.protocolError, 'HTTP/2 session ended'); });
  ws.on('error', (err) => options.logger?.debug({ err: err.message }, 'Outbound WebSocket failed'));
  const stopHeartbeat = startHeartbeat(ws, options.pingIntervalMs ?? TUNNEL_PING_INTERVAL_MS, () => options.logger?.warn('Sidecar stopped answering pings; dropped the outbound tunnel'));
  let active = 0;
  let open = true;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => {
      open = false;
      stopHeartbeat();
      session.destroy(new Error('the outbound tunnel to the sidecar closed'));
      resolve({ code, reason: reason.toString('utf8') });
    });
  });

  return {
    get activeStreams() { return active; },
    get isOpen() { return open && !session.closed && !session.destroyed; },
    closed,
    open(target) {
      return new Promise<Duplex>((resolve, reject) => {
        const authority = formatOutboundTarget(target);
        if (!open || session.closed || session.destroyed) {
          reject(new OutboundError('tunnel', `cannot reach ${authority}: the tunnel to the sidecar is down`));
          return;
        }
        let stream: ClientHttp2Stream;
        try {
          stream = session.request({ ':method': 'CONNECT', ':authority': authority });
        } catch (err) {
          reject(new OutboundError('tunnel', `cannot reach ${authority}: ${err instanceof Error ? err.message : String(err)}`));
          return;
        }
        active++;
        let answered = false;
        stream.once('close', () => {
          active--;
          if (!answered) reject(new OutboundError('tunnel', `cannot reach ${authority}: the tunnel to the sidecar closed`));
        });
        stream.on('error', () => { /* reported through close / to the consumer */ });
        stream.once('response', (headers: IncomingHttpHeaders) => {
          answered = true;
          const status = Number(headers[':status']);
          if (status === 200) { resolve(stream); return; }
          const reasonHeader = headers[TUNNEL_REASON_HEADER];
          const reason = typeof reasonHeader === 'string' ? reasonHeader : `sidecar answered ${status}`;
          stream.destroy();
          reject(new OutboundError(parseOutboundErrorCode(headers[OUTBOUND_ERROR_HEADER]), reason));
        });
      });
    },
    async close() {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(CLOSE.normal, 'developer closed the outbound tunnel');
      const timer = setTimeout(() => ws.terminate(), 2000);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
    terminate() { ws.terminate(); },
  };
}

export interface OutboundDialer {
  /** Opens a connection in the cluster, (re)connecting the tunnel first when it is down. */
  dial(target: OutboundTarget): Promise<Duplex>;
  /** Opens the tunnel now if it is down (e.g. to report a problem before any connection). */
  connect(): Promise<OutboundTunnel>;
  readonly current: OutboundTunnel | undefined;
  close(): Promise<void>;
}

export interface OutboundDialerOptions {
  connect: () => Promise<OutboundTunnel>;
  /** Told when the tunnel came up, went down, or could not be opened. */
  onStatus?: (s: { state: 'connected' } | { state: 'lost'; code: number; reason: string } | { state: 'failed'; error: string }) => void;
}

/**
 * One outbound tunnel shared by every local connection, opened on first use and re-opened by the
 * next connection after it dropped. While it cannot be opened, each connection fails at once with
 * an OutboundError `tunnel` that says why.
 */
export function buildOutboundDialer(options: OutboundDialerOptions): OutboundDialer {
  let current: OutboundTunnel | undefined;
  let pending: Promise<OutboundTunnel> | undefined;
  let closed = false;

  const tunnel = async (): Promise<OutboundTunnel> => {
    if (current?.isOpen) return current;
    if (pending) return pending;
    pending = (async () => {
      try {
        const t = await options.connect();
        current = t;
        options.onStatus?.({ state: 'connected' });
        void t.closed.then((info) => {
          if (current === t) current = undefined;
          if (!closed) options.onStatus?.({ state: 'lost', ...info });
        });
        return t;
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        options.onStatus?.({ state: 'failed', error: reason });
        throw new OutboundError('tunnel', `no tunnel to the sidecar: ${reason}`);
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };

  return {
    get current() { return current; },
    connect: () => tunnel(),
    async dial(target) {
      if (closed) throw new OutboundError('tunnel', 'detour is shutting down');
      return (await tunnel()).open(target);
    },
    async close() {
      closed = true;
      const t = current ?? (pending ? await pending.catch(() => undefined) : undefined);
      await t?.close();
    },
  };
}
