// Explicit forwards, like `ssh -L`: `--forward [LOCALPORT:]HOST:PORT` listens on 127.0.0.1:LOCALPORT
// (LOCALPORT defaults to PORT) and opens HOST:PORT in the cluster for every connection. A connection
// that cannot be opened is reset, so the client sees an error at once.

import net from 'node:net';
import { parseOutboundTarget, type OutboundTarget } from '../core/tunnel/outbound-protocol.js';
import type { OutboundDialer } from '../core/tunnel/outbound.js';
import { relay } from './relay.js';
import type { LocalConnectionEvent } from './socks-proxy.js';

export interface ForwardSpec {
  localPort: number;
  target: OutboundTarget;
}

/** Parses one `--forward` value; returns a reason when it is not `[LOCALPORT:]HOST:PORT`. */
export function parseForwardSpec(text: string): ForwardSpec | string {
  const m = /^(?:(\d{1,5}):)?(.+)$/.exec(text);
  const usage = `--forward ${text}: use [LOCALPORT:]HOST:PORT, e.g. 6379:redis:6379 or postgres.db:5432`;
  if (!m) return usage;
  const target = parseOutboundTarget(m[2]!);
  if (typeof target === 'string') return usage;
  const localPort = m[1] === undefined ? target.port : Number(m[1]);
  if (localPort > 65535) return `--forward ${text}: local port out of range`;
  return { localPort, target };
}

export interface ForwardListenerOptions {
  dialer: Pick<OutboundDialer, 'dial'>;
  target: OutboundTarget;
  via?: LocalConnectionEvent['via'];
  onConnection?: (e: LocalConnectionEvent) => void;
}

export function buildForwardListener(options: ForwardListenerOptions): net.Server {
  const destination = `${options.target.host}:${options.target.port}`;
  return net.createServer({ pauseOnConnect: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    options.dialer.dial(options.target).then((remote) => {
      if (socket.destroyed) { remote.destroy(); return; }
      options.onConnection?.({ via: options.via ?? 'forward', destination });
      relay(socket, remote);
      socket.resume();
    }, (err: unknown) => {
      options.onConnection?.({ via: options.via ?? 'forward', destination, error: err instanceof Error ? err.message : String(err) });
      socket.resetAndDestroy();
    });
  });
}
