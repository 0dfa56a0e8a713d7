// The local SOCKS5 proxy (127.0.0.1): CONNECT only, no authentication (it listens on loopback only),
// names sent to the cluster unresolved (socks5h semantics: `inventory` resolves in the pod). A
// destination that cannot be reached gets the SOCKS reply code for why (see socks-protocol.ts).

import net from 'node:net';
import { OutboundError, type OutboundDialer } from '../core/tunnel/outbound.js';
import { relay } from './relay.js';
import { buildSocksReply, parseSocksGreeting, parseSocksRequest, SOCKS_REPLY, socksReplyFor } from './socks-protocol.js';

export interface LocalConnectionEvent {
  via: 'socks' | 'http' | 'forward' | 'hosts';
  destination: string;
  error?: string;
}

export interface SocksProxyOptions {
  dialer: Pick<OutboundDialer, 'dial'>;
  onConnection?: (e: LocalConnectionEvent) => void;
}

export function buildSocksProxy(options: SocksProxyOptions): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    let stage: 'greeting' | 'request' | 'dialing' = 'greeting';
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > 1024) { socket.destroy(); return; }
      if (stage === 'greeting') {
        const g = parseSocksGreeting(buf);
        if (g.kind === 'incomplete') return;
        if (g.kind === 'invalid') { socket.destroy(); return; }
        if (!g.noAuth) { socket.end(Buffer.from([5, 0xff])); return; }
        socket.write(Buffer.from([5, 0x00]));
        buf = buf.subarray(g.length);
        stage = 'request';
      }
      if (stage === 'request') {
        const r = parseSocksRequest(buf);
        if (r.kind === 'incomplete') return;
        if (r.kind === 'invalid') { socket.end(buildSocksReply(r.reply)); return; }
        if (r.command !== 0x01) { socket.end(buildSocksReply(SOCKS_REPLY.commandNotSupported)); return; }
        stage = 'dialing';
        socket.off('data', onData);
        socket.pause();
        const rest = buf.subarray(r.length);
        const destination = `${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`;
        options.dialer.dial({ host: r.host, port: r.port }).then((remote) => {
          if (socket.destroyed) { remote.destroy(); return; }
          options.onConnection?.({ via: 'socks', destination });
          socket.write(buildSocksReply(SOCKS_REPLY.succeeded));
          if (rest.length > 0) remote.write(rest);
          relay(socket, remote);
          socket.resume();
        }, (err: unknown) => {
          const code = err instanceof OutboundError ? err.code : 'error';
          options.onConnection?.({ via: 'socks', destination, error: err instanceof Error ? err.message : String(err) });
          if (!socket.destroyed) socket.end(buildSocksReply(socksReplyFor(code)));
        });
      }
    };
    socket.on('data', onData);
  });
}
