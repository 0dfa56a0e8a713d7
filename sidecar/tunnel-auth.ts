// Deciding whether a tunnel upgrade may connect, and to which intercepts. Pure.

import type { IncomingHttpHeaders } from 'node:http';
import { hashToken, tokenFromHeaders, tokenHashEquals } from '../core/tunnel/protocol.js';
import type { RoutingTable } from '../core/routing/table.js';

export type TunnelAuthResult =
  | { ok: true; intercepts: string[]; tokenHash: string }
  | { ok: false; status: 401 | 403; code: 'missing_token' | 'unknown_token'; reason: string };

/**
 * Hashes the offered token and compares it, in constant time, with every route's tokenHash (all of
 * them, so timing does not reveal which matched). The token itself never leaves this function.
 */
export function authenticateTunnel(headers: IncomingHttpHeaders, table: RoutingTable, nowMs: number): TunnelAuthResult {
  const token = tokenFromHeaders(headers);
  if (token === undefined) {
    return { ok: false, status: 401, code: 'missing_token', reason: 'missing token: send Authorization: Bearer <intercept token> (or X-Detour-Token)' };
  }
  const offered = hashToken(token);
  const intercepts = new Set<string>();
  let expiredOnly = false;
  for (const route of table.routes) {
    if (tokenHashEquals(offered, route.tokenHash)) {
      const expires = route.expiresAt === undefined ? Infinity : Date.parse(route.expiresAt);
      if (nowMs < expires) intercepts.add(route.intercept);
      else expiredOnly = true;
    }
  }
  if (intercepts.size === 0) {
    return {
      ok: false, status: 403, code: 'unknown_token',
      reason: expiredOnly ? 'the intercept for this token has expired' : 'token matches no active intercept on this pod (wrong token, or the routing table has not arrived yet)',
    };
  }
  return { ok: true, intercepts: [...intercepts], tokenHash: offered };
}

/** True while some route of the table still carries this token hash for one of the intercepts. */
export function tunnelStillAuthorized(tokenHash: string, intercepts: ReadonlySet<string>, table: RoutingTable, nowMs: number): boolean {
  return table.routes.some((r) => intercepts.has(r.intercept) && tokenHashEquals(tokenHash, r.tokenHash)
    && (r.expiresAt === undefined || nowMs < Date.parse(r.expiresAt)));
}
