// SOCKS5 (RFC 1928) message parsing and building for the local proxy. Pure: bytes in, decisions out.
// Only what a CONNECT proxy needs: the no-authentication method, CONNECT, and the three address
// types (names are passed on unresolved, as socks5h:// clients expect).

import type { OutboundErrorCode } from '../core/tunnel/outbound-protocol.js';

export const SOCKS_VERSION = 5;

export const SOCKS_REPLY = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

export type GreetingParse =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'ok'; noAuth: boolean; length: number };

/** VER NMETHODS METHODS… */
export function parseSocksGreeting(buf: Buffer): GreetingParse {
  if (buf.length < 2) return { kind: 'incomplete' };
  if (buf[0] !== SOCKS_VERSION) return { kind: 'invalid', reason: `not SOCKS5 (version byte ${buf[0]})` };
  const n = buf[1]!;
  if (buf.length < 2 + n) return { kind: 'incomplete' };
  const methods = buf.subarray(2, 2 + n);
  return { kind: 'ok', noAuth: methods.includes(0x00), length: 2 + n };
}

export type RequestParse =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string; reply: number }
  | { kind: 'ok'; command: number; host: string; port: number; length: number };

/** VER CMD RSV ATYP DST.ADDR DST.PORT */
export function parseSocksRequest(buf: Buffer): RequestParse {
  if (buf.length < 5) return { kind: 'incomplete' };
  if (buf[0] !== SOCKS_VERSION) return { kind: 'invalid', reason: `not SOCKS5 (version byte ${buf[0]})`, reply: SOCKS_REPLY.generalFailure };
  const command = buf[1]!;
  const atyp = buf[3]!;
  let host: string;
  let offset: number;
  if (atyp === 0x01) {
    if (buf.length < 10) return { kind: 'incomplete' };
    host = [...buf.subarray(4, 8)].join('.');
    offset = 8;
  } else if (atyp === 0x03) {
    const len = buf[4]!;
    if (buf.length < 5 + len + 2) return { kind: 'incomplete' };
    host = buf.subarray(5, 5 + len).toString('latin1');
    offset = 5 + len;
    if (len === 0) return { kind: 'invalid', reason: 'empty host name', reply: SOCKS_REPLY.generalFailure };
  } else if (atyp === 0x04) {
    if (buf.length < 22) return { kind: 'incomplete' };
    const parts: string[] = [];
    for (let i = 0; i < 16; i += 2) parts.push(buf.readUInt16BE(4 + i).toString(16));
    host = parts.join(':');
    offset = 20;
  } else {
    return { kind: 'invalid', reason: `address type ${atyp} not supported`, reply: SOCKS_REPLY.addressTypeNotSupported };
  }
  const port = buf.readUInt16BE(offset);
  return { kind: 'ok', command, host, port, length: offset + 2 };
}

/** A reply with BND.ADDR 0.0.0.0:0 (clients of a CONNECT proxy do not use it). */
export function buildSocksReply(code: number): Buffer {
  return Buffer.from([SOCKS_VERSION, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
}

/** The SOCKS reply code for an outbound failure. */
export function socksReplyFor(code: OutboundErrorCode): number {
  switch (code) {
    case 'dns': return SOCKS_REPLY.hostUnreachable;
    case 'refused': return SOCKS_REPLY.connectionRefused;
    case 'unreachable': return SOCKS_REPLY.networkUnreachable;
    case 'timeout': return SOCKS_REPLY.ttlExpired;
    case 'bad_target': return SOCKS_REPLY.notAllowed;
    default: return SOCKS_REPLY.generalFailure;
  }
}
