// One HTTP/2 connection inside a tunnel WebSocket (wrapped by webSocketDuplex): the server side (the
// developer end of the inbound tunnel, the sidecar end of outbound) and the client side (the sidecar
// end of the inbound tunnel, the developer end of outbound), both with TUNNEL_H2_SETTINGS and the
// larger connection window (TUNNEL_H2_CONNECTION_WINDOW) once the settings were exchanged.

import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { TUNNEL_H2_CONNECTION_WINDOW, TUNNEL_H2_SETTINGS } from './protocol.js';

export interface H2ServerHandlers {
  onSession?: (session: ServerHttp2Session) => void;
  onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;
}

/** Serves HTTP/2 over `duplex`; session errors end with the WebSocket (the caller watches its close). */
export function serveH2OverWebSocket(duplex: Duplex, handlers: H2ServerHandlers): void {
  const server = http2.createServer({ settings: TUNNEL_H2_SETTINGS, maxSessionMemory: 64 });
  server.on('session', (s: ServerHttp2Session) => {
    s.on('error', () => { /* the WebSocket close ends the tunnel */ });
    s.once('localSettings', () => { try { s.setLocalWindowSize(TUNNEL_H2_CONNECTION_WINDOW); } catch { /* closed */ } });
    handlers.onSession?.(s);
  });
  server.on('stream', handlers.onStream);
  server.emit('connection', duplex);
}

/** An HTTP/2 client session over `duplex`. `remoteCustomSettings`: setting ids Node should report. */
export function connectH2OverWebSocket(duplex: Duplex, options: { remoteCustomSettings?: number[] } = {}): ClientHttp2Session {
  const session = http2.connect('http://tunnel.detour.invalid', {
    createConnection: () => duplex,
    settings: TUNNEL_H2_SETTINGS,
    maxSessionMemory: 64,
    ...(options.remoteCustomSettings ? { remoteCustomSettings: options.remoteCustomSettings } : {}),
  });
  session.once('remoteSettings', () => { try { session.setLocalWindowSize(TUNNEL_H2_CONNECTION_WINDOW); } catch { /* closed */ } });
  return session;
}
