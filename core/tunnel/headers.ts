// Header conversions shared by the sidecar and the developer end of the tunnel: hop-by-hop removal
// (RFC 9110 §7.6.1) and HTTP/1.1 ⇄ HTTP/2 header shapes. Pure functions.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Connection-specific headers: never forwarded, and forbidden in HTTP/2. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'transfer-encoding', 'upgrade', 'http2-settings',
]);

/**
 * Headers that frame or address a message. `Connection` can never remove them (RFC 9110 §7.6.1 lets
 * a sender list only hop-by-hop fields; a proxy that drops `Content-Length` because `Connection`
 * named it forwards an unframed body, which the next hop parses as a second request).
 */
export const FRAMING_HEADERS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'host']);

/** Headers the tunnel adds for the developer end; stripped before anything reaches a local server. */
export const TUNNEL_HEADER_PREFIX = 'x-detour-tunnel-';

type HeaderValue = string | string[] | number | undefined;

/** Names listed in a `Connection` header (lower-case); they are hop-by-hop too. Framing headers are never listed. */
export function connectionTokens(value: HeaderValue): Set<string> | undefined {
  if (value === undefined) return undefined;
  const s = Array.isArray(value) ? value.join(',') : String(value);
  const out = new Set<string>();
  for (const t of s.split(',')) {
    const name = t.trim().toLowerCase();
    if (name && !FRAMING_HEADERS.has(name)) out.add(name);
  }
  return out;
}

/** The first framing header (`content-length`, `transfer-encoding`, `host`) a `Connection` value names, if any. */
export function connectionNamesFraming(value: HeaderValue): string | undefined {
  if (value === undefined) return undefined;
  const s = Array.isArray(value) ? value.join(',') : String(value);
  for (const t of s.split(',')) {
    const name = t.trim().toLowerCase();
    if (FRAMING_HEADERS.has(name)) return name;
  }
  return undefined;
}

export interface CopyOptions {
  /** Drop `x-detour-tunnel-*` headers (the developer end does this before the local server). */
  dropTunnelHeaders?: boolean;
  /** Keep `te: trailers` (needed by gRPC over HTTP/2). */
  keepTeTrailers?: boolean;
  /** Drop HTTP/2 pseudo-headers (`:path` …). */
  dropPseudo?: boolean;
  /** Drop `host` (HTTP/2 carries it as `:authority`). */
  dropHost?: boolean;
}

/**
 * Copies end-to-end headers: leaves out hop-by-hop headers, those the `Connection` header names,
 * and optionally pseudo-headers, `host` and tunnel headers. Names are lower-case (Node's parsed form).
 */
export function endToEndHeaders(headers: IncomingHttpHeaders | OutgoingHttpHeaders, options: CopyOptions = {}): OutgoingHttpHeaders {
  const listed = connectionTokens(headers['connection']);
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      if (!options.dropPseudo) out[name] = value;
      continue;
    }
    if (name === 'te') {
      if (options.keepTeTrailers && String(value).toLowerCase().includes('trailers')) out.te = 'trailers';
      continue;
    }
    if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    if (options.dropHost && name === 'host') continue;
    if (options.dropTunnelHeaders && name.startsWith(TUNNEL_HEADER_PREFIX)) continue;
    out[name] = value;
  }
  return out;
}

/** A socket's remote address as X-Forwarded-For shows it: IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as plain IPv4. */
export function stripMappedV4(addr: string | undefined): string | undefined {
  return addr?.startsWith('::ffff:') ? addr.slice(7) : addr;
}

/** Appends the peer to `X-Forwarded-For` and sets `X-Forwarded-Proto` when absent. Mutates `headers`. */
export function addForwardedHeaders(headers: OutgoingHttpHeaders, remoteAddress: string | undefined, proto: 'http' | 'https'): void {
  const peer = stripMappedV4(remoteAddress);
  if (peer) {
    const prior = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior === undefined ? peer : `${Array.isArray(prior) ? prior.join(', ') : String(prior)}, ${peer}`;
  }
  if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = proto;
}

/** Response headers of an HTTP/1 upstream made fit for an HTTP/2 `respond()` (no connection headers). */
export function http1ResponseToH2(status: number, headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out = endToEndHeaders(headers, { dropPseudo: true });
  out[':status'] = status;
  return out;
}

/** Request or response headers of an HTTP/2 peer made fit for HTTP/1 (pseudo-headers out, `:authority` → `host`). */
export function h2ToHttp1Headers(headers: IncomingHttpHeaders, options: CopyOptions = {}): OutgoingHttpHeaders {
  const out = endToEndHeaders(headers, { ...options, dropPseudo: true });
  const authority = headers[':authority'];
  if (out.host === undefined && typeof authority === 'string') out.host = authority;
  return out;
}

/** Trailers fit for HTTP/2 `sendTrailers` (no pseudo or connection headers). */
export function cleanTrailers(trailers: IncomingHttpHeaders | NodeJS.Dict<string | string[]>): OutgoingHttpHeaders {
  return endToEndHeaders(trailers as IncomingHttpHeaders, { dropPseudo: true });
}

/**
 * Filters Node's `rawHeaders` ([name, value, name, value, …], original case and order, duplicates
 * kept) down to end-to-end headers (framing headers stay even when `Connection` names them). Used on the hot path to the app, so it does one pass plus one
 * for the `Connection` header's list.
 */
export function endToEndRawHeaders(raw: readonly string[]): string[] {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      for (const t of raw[i + 1]!.split(',')) {
        const name = t.trim().toLowerCase();
        if (name && name !== 'close' && name !== 'keep-alive' && !FRAMING_HEADERS.has(name)) (listed ??= new Set()).add(name);
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
