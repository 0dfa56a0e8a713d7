// The routing table: what the operator computes per workload and pushes to every sidecar of it.
// Carries token hashes, never tokens.

import type { WorkloadRef } from '../workload-ref.js';

/** A condition on one value: set exactly one of exact, prefix, regex (anchored, RE2). */
export interface ValueRule {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface HeaderRule extends ValueRule {
  /** HTTP header name (case-insensitive); for gRPC the metadata key. */
  name: string;
}

/** A member of the W3C `baggage` header, by key (case-sensitive); the value is percent-decoded. */
export interface BaggageRule extends ValueRule {
  key: string;
}

/** A cookie of the `Cookie` header, by name (case-sensitive); the value as sent (not decoded). */
export interface CookieRule extends ValueRule {
  name: string;
}

/** A query parameter, by decoded name (case-sensitive); the first value, decoded. */
export interface QueryRule extends ValueRule {
  name: string;
}

/**
 * A header rule the operator adds to every route with baggage, cookie or query rules, so that a
 * sidecar from before those rules existed (which would ignore them and see a match without
 * conditions, i.e. every request) never matches the route: a pseudo-header name is never a request
 * header (HTTP/1 refuses `:` in names, HTTP/2 refuses unknown pseudo-headers, and the CRD refuses
 * such rules). Sidecars that know the key rules leave this rule out (match.ts).
 */
export const KEY_RULES_GUARD: HeaderRule = Object.freeze({ name: ':detour-key-rules', exact: 'v1' });

export interface RouteMatch {
  headers: HeaderRule[];
  baggage?: BaggageRule[];
  cookies?: CookieRule[];
  query?: QueryRule[];
  pathPrefix?: string;
}

/** Outbound: routes no request; the Intercept exists for its token (outbound streams, `detour run`). */
export type InterceptMode = 'Steal' | 'Mirror' | 'Outbound';
export type FallbackPolicy = 'App' | 'Reject';

export interface Route {
  /** `namespace/name` of the Intercept this route belongs to. */
  intercept: string;
  /** The app's container port as the Intercept names it: a port name (`http`) or a number. */
  port: string | number;
  /** Absent: a global intercept (every request on the port). */
  match?: RouteMatch;
  mode: InterceptMode;
  fallback: FallbackPolicy;
  /** Lower-case hex SHA-256 of the Intercept's tunnel token. */
  tokenHash: string;
  /** RFC 3339 creation time of the Intercept: among overlapping routes of one mode the older wins. */
  createdAt?: string;
  /** RFC 3339; after it the sidecar stops routing this intercept even if no new table arrives. */
  expiresAt?: string;
}

export type { WorkloadRef };

export interface RoutingTable {
  /** Monotonic per workload within one operator leader term; sidecars ignore a lower version from the same epoch. */
  version: number;
  /**
   * Changes when a new leader starts numbering: `<term>.<random>` (buildEpoch), where term is the
   * leader-election Lease's leaseTransitions when the leader took it. A sidecar accepts any version
   * of a new epoch of the same or a higher term, and refuses tables of an older term (a deposed
   * leader's).
   */
  epoch: string;
  workload: WorkloadRef;
  routes: Route[];
}

/** `<term>.<random>`: the leader's term (Lease leaseTransitions) first, so terms order epochs. */
export function buildEpoch(term: number, random: string): string {
  return `${term}.${random}`;
}

/** The term of an epoch; -1 for an epoch without one (the empty table's, or a pre-term operator's). */
export function epochTerm(epoch: string): number {
  const m = /^(\d{1,15})\.[0-9a-z]{1,48}$/.exec(epoch);
  return m ? Number(m[1]) : -1;
}

/** Whether `next` replaces `current`: a newer term always does, an older term never, and within an epoch only a higher version. */
export function isNewerTable(current: RoutingTable, next: RoutingTable): boolean {
  if (next.epoch === current.epoch) return next.version > current.version;
  return epochTerm(next.epoch) >= epochTerm(current.epoch);
}

export function emptyRoutingTable(workload: WorkloadRef): RoutingTable {
  return { version: 0, epoch: '', workload, routes: [] };
}
