// The tunnel protocol between a developer (the detour CLI) and a sidecar. Full description in
// docs/tunnel-protocol.md; in short:
//
// 1. The CLI opens a WebSocket to the sidecar's tunnel port (SIDECAR_TUNNEL_PORT, any path; the CLI
//    uses TUNNEL_PATH) directly, through a pod port-forward, or through the pod proxy subresource,
//    offering the subprotocols detour-tunnel.v2 and .v1 (negotiation.ts) and the Intercept's token as
//    `Authorization: Bearer <token>` or, where a proxy in between consumes `Authorization` (the
//    Kubernetes API does), as `X-Detour-Token: <token>`.
// 2. The sidecar hashes the token (SHA-256, lower-case hex) and compares it in constant time with
//    the `tokenHash` of every route in its table. No token: 401. No matching route: 403. The reason
//    is in the body and in the `X-Detour-Reason` response header.
// 3. After the upgrade the WebSocket carries one HTTP/2 connection as binary messages (a byte
//    stream; message boundaries mean nothing). The SIDECAR is the HTTP/2 client, the DEVELOPER is the
//    HTTP/2 server. Every routed request is one HTTP/2 stream; the request as the sidecar received
//    it (method, path, authority, end-to-end headers, X-Forwarded-For/Proto, body, trailers), with
//    the `x-detour-tunnel-*` headers below. Text messages are a protocol error (close 1003).
//    On detour-tunnel.v2 an HTTP/1.1 request instead travels as its own bytes (PROTO_HEADER
//    `http1-bytes`, METHOD_HEADER): head and framed body as DATA; the answer is the local server's
//    raw bytes after `:status 200` (http1-bytes-forward.ts, http1-response-framing.ts).
// 4. WebSocket upgrades travel as an ordinary stream marked `x-detour-tunnel-upgrade: <Upgrade>`;
//    when the local server switched protocols the developer answers `:status 200` with
//    `x-detour-tunnel-status: 101` and the 101's headers, and the stream then carries raw bytes.
// 5. Liveness: WebSocket pings both ways every `pingIntervalMs`; a peer silent for two intervals is
//    dropped. When the WebSocket goes, the HTTP/2 session is destroyed: every in-flight stream fails
//    at once (the sidecar answers 502) and the next matching request follows the fallback.
// 6. Draining (a graceful leave): the developer sends a SETTINGS frame with TUNNEL_DRAIN_SETTING = 1;
//    from then on the sidecar opens no new stream on that tunnel (matching requests follow the
//    fallback) while streams in flight finish. After the SETTINGS ACK and one PING round trip every
//    stream the sidecar will ever open has arrived; the developer then closes gracefully (GOAWAY),
//    waiting for them at most TUNNEL_DRAIN_MS.
//    The sidecar drains the same way from its side when it revokes a tunnel (GOAWAY, then close 4403).

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Settings } from 'node:http2';

export const TUNNEL_PATH = '/tunnel';
/**
 * The tunnel subprotocols, negotiated in the WebSocket upgrade (core/tunnel/negotiation.ts): the CLI
 * offers v2 then v1, the sidecar picks the newest it speaks. v2 carries HTTP/1 requests as their own
 * bytes (PROTO_HEADER `http1-bytes`); v1 only as HTTP/2 requests (`http1`). Everything else is the same.
 */
export const TUNNEL_SUBPROTOCOL_V1 = 'detour-tunnel.v1';
export const TUNNEL_SUBPROTOCOL_V2 = 'detour-tunnel.v2';
/** The newest tunnel subprotocol. */
export const TUNNEL_SUBPROTOCOL = TUNNEL_SUBPROTOCOL_V2;
/** Alternative to `Authorization` for paths where a proxy consumes that header. */
export const TUNNEL_TOKEN_HEADER = 'x-detour-token';
/** Reason for a refused upgrade, on 401/403 responses. */
export const TUNNEL_REASON_HEADER = 'x-detour-reason';

/** sidecar → developer, request: `1` on the copy of a Mirror route (the answer is discarded). */
export const MIRROR_HEADER = 'x-detour-tunnel-mirror';
/**
 * sidecar → developer, request: `http1` or `h2`: how the request reached the sidecar, so the developer
 * end talks the same to the local server; `http1-bytes` (v2 only): the stream carries the HTTP/1.1
 * request's own bytes (head, then body as framed) and the answer comes back as the local server's bytes.
 */
export const PROTO_HEADER = 'x-detour-tunnel-proto';
/** sidecar → developer, `http1-bytes` streams: the request method (the stream's own `:method` is always POST). */
export const METHOD_HEADER = 'x-detour-tunnel-method';
/** sidecar → client, a refused upgrade: the tunnel subprotocols this sidecar speaks, newest first. */
export const PROTOCOLS_HEADER = 'x-detour-tunnel-protocols';
/** sidecar → developer, request: the request's `Upgrade` header value (e.g. `websocket`). */
export const UPGRADE_HEADER = 'x-detour-tunnel-upgrade';
/** developer → sidecar, response: the real status (`101`) of an upgrade answered with `:status 200`. */
export const STATUS_HEADER = 'x-detour-tunnel-status';
/** sidecar → developer, request: the Intercept (`namespace/name`) the request matched. */
export const INTERCEPT_HEADER = 'x-detour-tunnel-intercept';

/** WebSocket close codes used by the tunnel. */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  /** The intercept left the table or its token changed. */
  revoked: 4403,
  /** The peer stopped answering pings. */
  timeout: 4408,
} as const;

/** HTTP/2 settings both ends use: windows large enough for throughput, small enough to bound memory. */
export const TUNNEL_H2_SETTINGS: Settings = {
  initialWindowSize: 1 << 20, // 1 MiB per stream
  maxFrameSize: 1 << 14,
  enablePush: false,
  maxConcurrentStreams: 1000,
};
/** Connection-level receive window (HTTP/2 default is 64 KiB for the whole connection). */
export const TUNNEL_H2_CONNECTION_WINDOW = 8 << 20;
/** Largest WebSocket message either end accepts. */
export const TUNNEL_MAX_MESSAGE_BYTES = 4 << 20;
export const TUNNEL_PING_INTERVAL_MS = 10_000;
/**
 * HTTP/2 SETTINGS identifier (experimental range 0xf000–0xffff, RFC 7540 §11.3) the developer sets
 * to 1 to say "draining: open no new streams here". Unknown settings are ignored (RFC 9113 §6.5.2),
 * so older sidecars simply keep routing until the close.
 */
export const TUNNEL_DRAIN_SETTING = 0xf0de;
/** Default bound on how long a draining tunnel waits for its in-flight requests. */
export const TUNNEL_DRAIN_MS = 10_000;

/** Lower-case hex SHA-256, the form the operator puts in `Route.tokenHash`. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex SHA-256 digests. */
export function tokenHashEquals(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  if (ab.length !== 32 || bb.length !== 32) return false;
  return timingSafeEqual(ab, bb);
}

/** The token offered on a tunnel upgrade (`Authorization: Bearer` first, then `X-Detour-Token`). */
export function tokenFromHeaders(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const alt = headers[TUNNEL_TOKEN_HEADER];
  if (typeof alt === 'string' && alt.trim()) return alt.trim();
  return undefined;
}
