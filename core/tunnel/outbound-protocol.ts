// Outbound streams: the developer's local programs reach the cluster through the sidecar. Pure
// definitions shared by both ends; full description in docs/tunnel-protocol.md ("Outbound").
//
// The inbound tunnel has the sidecar as HTTP/2 client, so the developer cannot open streams on it.
// Outbound therefore uses its own WebSocket on the same tunnel port and path OUTBOUND_PATH, with the
// same token check, and the roles reversed: the DEVELOPER is the HTTP/2 client and the SIDECAR the
// HTTP/2 server. Each outbound TCP connection is one HTTP/2 CONNECT stream (RFC 7540 §8.3):
// `:method CONNECT`, `:authority HOST:PORT`, no `:scheme`/`:path`. The sidecar resolves HOST with the
// pod's resolver (getaddrinfo: /etc/resolv.conf search list), dials from the pod and answers
// `:status 200` (the stream is then a byte pipe both ways) or `502` with OUTBOUND_ERROR_HEADER and
// the reason in `x-detour-reason`. A TCP error after that resets the stream with CONNECT_ERROR.

export const OUTBOUND_PATH = '/outbound';
export const OUTBOUND_SUBPROTOCOL = 'detour-outbound.v1';
/** sidecar → developer, on a refused CONNECT: what went wrong, one of OutboundErrorCode. */
export const OUTBOUND_ERROR_HEADER = 'x-detour-outbound-error';
/** How long the sidecar waits for a TCP connect before answering `timeout`. */
export const OUTBOUND_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Why an outbound connection failed, as both ends name it. `dns`: the name did not resolve in the
 * pod; `refused`: nothing listens there; `unreachable`: no route (or NetworkPolicy drop answered by
 * ICMP); `timeout`: no answer to the connect; `bad_target`: not a HOST:PORT; `tunnel`: no tunnel to
 * the sidecar; `error`: anything else.
 */
export type OutboundErrorCode = 'dns' | 'refused' | 'unreachable' | 'timeout' | 'bad_target' | 'tunnel' | 'error';

const CODES: readonly OutboundErrorCode[] = ['dns', 'refused', 'unreachable', 'timeout', 'bad_target', 'tunnel', 'error'];

export function parseOutboundErrorCode(value: unknown): OutboundErrorCode {
  return typeof value === 'string' && (CODES as readonly string[]).includes(value) ? (value as OutboundErrorCode) : 'error';
}

/** Maps a Node socket/DNS error code to the outbound error code. */
export function classifyDialError(errno: string | undefined): OutboundErrorCode {
  switch (errno) {
    case 'ENOTFOUND': case 'EAI_AGAIN': case 'EAI_FAIL': case 'EAI_NONAME': case 'ENODATA':
      return 'dns';
    case 'ECONNREFUSED':
      return 'refused';
    case 'EHOSTUNREACH': case 'ENETUNREACH': case 'EHOSTDOWN': case 'ENETDOWN': case 'EADDRNOTAVAIL':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      return 'error';
  }
}

export interface OutboundTarget {
  host: string;
  port: number;
}

/**
 * Parses `HOST:PORT` (`[v6]:PORT` for IPv6 literals) as CONNECT's authority carries it. Returns a
 * reason string when it is not one.
 */
export function parseOutboundTarget(authority: string): OutboundTarget | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/@]+)):(\d{1,5})$/.exec(authority);
  if (!m) return `not HOST:PORT: ${JSON.stringify(authority.slice(0, 100))}`;
  const host = (m[1] ?? m[2])!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port out of range: ${m[3]}`;
  if (host.length > 253) return 'host name longer than 253 characters';
  return { host, port };
}

/** `HOST:PORT` for a CONNECT authority (brackets around IPv6 literals). */
export function formatOutboundTarget(t: OutboundTarget): string {
  return `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}
