// The local HTTP proxy (127.0.0.1): CONNECT tunnels and plain forwarding of absolute-URI requests
// (`GET http://inventory.shop:8080/items`), every connection opened in the cluster by the sidecar.
// A destination that cannot be reached gets `502 Bad Gateway` with the reason in the body and in
// `X-Detour-Reason`.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { parseOutboundTarget } from '../core/tunnel/outbound-protocol.js';
import type { OutboundDialer } from '../core/tunnel/outbound.js';
import { TUNNEL_REASON_HEADER } from '../core/tunnel/protocol.js';
import { relay } from './relay.js';
import type { LocalConnectionEvent } from './socks-proxy.js';

export interface HttpProxyOptions {
  dialer: Pick<OutboundDialer, 'dial'>;
  onConnection?: (e: LocalConnectionEvent) => void;
}

const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function buildHttpProxy(options: HttpProxyOptions): http.Server {
  const server = http.createServer((req, res) => forward(req, res, options));
  server.on('connect', (req: IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const target = parseOutboundTarget(req.url ?? '');
    if (typeof target === 'string') {
      socket.end(`HTTP/1.1 400 Bad Request\r\n${TUNNEL_REASON_HEADER}: ${target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    const destination = req.url ?? '';
    options.dialer.dial(target).then((remote) => {
      if (socket.destroyed) { remote.destroy(); return; }
      options.onConnection?.({ via: 'http', destination });
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) remote.write(head);
      relay(socket, remote);
    }, (err: unknown) => {
      const reason = message(err).replace(/[\r\n]/g, ' ');
      options.onConnection?.({ via: 'http', destination, error: reason });
      const body = `${reason}\n`;
      socket.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n${TUNNEL_REASON_HEADER}: ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
  });
  return server;
}

function fail(res: ServerResponse, status: number, reason: string): void {
  const clean = reason.replace(/[\r\n]/g, ' ');
  if (res.headersSent) { res.destroy(); return; }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', [TUNNEL_REASON_HEADER]: clean, connection: 'close' });
  res.end(`${clean}\n`);
}

function forward(req: IncomingMessage, res: ServerResponse, options: HttpProxyOptions): void {
  let url: URL;
  try {
    url = new URL(req.url ?? '');
  } catch {
    fail(res, 400, 'this is a proxy: send absolute-URI requests (http://host:port/path) or CONNECT');
    return;
  }
  if (url.protocol !== 'http:') { fail(res, 400, `only http:// URLs are forwarded (use CONNECT for ${url.protocol})`); return; }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || 80);
  const destination = `${url.hostname}:${port}`;
  options.dialer.dial({ host, port }).then((remote: Duplex) => {
    options.onConnection?.({ via: 'http', destination });
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers.host = url.host;
    headers.connection = 'close';
    if (req.headers['transfer-encoding']) headers['transfer-encoding'] = req.headers['transfer-encoding'];
    const upstream = http.request({ method: req.method, path: `${url.pathname}${url.search}`, headers, createConnection: () => remote as net.Socket, setHost: false });
    upstream.on('response', (up) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
      up.pipe(res);
      up.on('error', () => res.destroy());
      up.on('aborted', () => res.destroy());
    });
    upstream.on('error', (err) => fail(res, 502, `${destination}: ${message(err)}`));
    req.pipe(upstream);
    res.on('close', () => { if (!res.writableFinished) upstream.destroy(); });
  }, (err: unknown) => {
    options.onConnection?.({ via: 'http', destination, error: message(err) });
    fail(res, 502, message(err));
  });
}
