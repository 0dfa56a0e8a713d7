// Per-request routing decision: pure functions over a compiled routing table.
//
// `compileRoutes` turns the operator's `RoutingTable` into the form the hot path uses (lower-cased
// header names, regexes compiled once with re2js, normalised path prefixes, parsed expiry,
// precedence order), once per table and listener port. `matchRoute` then decides one request
// without compiling anything.
//
// Semantics (documented in docs/sidecar.md and docs/api.md):
// - header names are case-insensitive; values are case-sensitive;
// - `exact` compares the whole value, `prefix` uses startsWith, `regex` must match the WHOLE value
//   (anchored, like Istio/Envoy `safe_regex`) and runs in a linear-time RE2 engine (regex.ts); a
//   multi-valued header is seen as its values joined with ", " (Node's own join), and a missing
//   header never matches;
// - `pathPrefix` matches element-wise on the normalised path (Gateway API PathPrefix, path.ts);
// - every header rule and the path prefix must hold; a route without `match` is global;
// - a route whose `expiresAt` has passed never matches; a route whose regex RE2 refuses never matches;
// - precedence: Steal before Mirror (a copy never takes a request away from a Steal), then the
//   older intercept (`createdAt`), then the intercept key. The first matching route wins. The
//   operator never routes two Steal intercepts that some request could match both, so among Steal
//   routes this order only decides during a table change.
// - requests from the kubelet's probes (User-Agent `kube-probe/…`) never match.
// - a route with mode Outbound never matches: it is in the table only for its token hash.

import type { HeaderRule, Route, RoutingTable } from './table.js';
import { normalisePathPrefix, normaliseRequestPath, pathHasPrefix } from './path.js';
import { compileFullMatch } from './regex.js';

export interface CompiledHeaderRule {
  /** Lower-case header name. */
  name: string;
  test: (value: string) => boolean;
}

export interface CompiledRoute {
  route: Route;
  /** `namespace/name` of the Intercept (same as route.intercept). */
  intercept: string;
  headers: CompiledHeaderRule[];
  /** Normalised, without trailing `/` (`` for `/`); undefined: no path condition. */
  pathPrefix: string | undefined;
  /** Milliseconds since the epoch; Infinity when the route never expires. */
  expiresAtMs: number;
  /** Milliseconds since the epoch of the Intercept's creation; Infinity when unknown (sorts last). */
  createdAtMs: number;
  /** Why the route can never match (a regex RE2 refuses, unparsable expiry); undefined when it can. */
  invalid: string | undefined;
}

/** The routes of one listener port in precedence order. An empty array is the pass-through fast path. */
export type CompiledRoutes = readonly CompiledRoute[];

/** What the matcher needs to know about one request. `header` receives a lower-case name. */
export interface MatchInput {
  path: string;
  header: (lowerCaseName: string) => string | undefined;
}

/** The port a listener took over, as far as routing is concerned. */
export interface PortIdentity {
  name?: string;
  appPort: number;
}

export const KUBE_PROBE_PREFIX = 'kube-probe/';

/** True when the User-Agent is the kubelet's prober; such requests always go to the app. */
export function isKubeProbe(userAgent: string | undefined): boolean {
  return userAgent !== undefined && userAgent.startsWith(KUBE_PROBE_PREFIX);
}

/** True when the route's `port` (a port name or number) designates this taken-over port. */
export function routeTargetsPort(route: Route, port: PortIdentity): boolean {
  if (typeof route.port === 'number') return route.port === port.appPort;
  if (port.name !== undefined && route.port === port.name) return true;
  return /^\d+$/.test(route.port) && Number(route.port) === port.appPort;
}

export function compileHeaderRule(rule: HeaderRule): CompiledHeaderRule {
  const name = rule.name.toLowerCase();
  if (rule.exact !== undefined) {
    const expected = rule.exact;
    return { name, test: (v) => v === expected };
  }
  if (rule.prefix !== undefined) {
    const prefix = rule.prefix;
    return { name, test: (v) => v.startsWith(prefix) };
  }
  if (rule.regex !== undefined) {
    return { name, test: compileFullMatch(rule.regex) }; // throws on a pattern RE2 refuses; compileRoute catches
  }
  throw new Error(`header rule for ${rule.name} has none of exact, prefix, regex`);
}

export function compileRoute(route: Route): CompiledRoute {
  let invalid: string | undefined;
  let headers: CompiledHeaderRule[] = [];
  try {
    headers = (route.match?.headers ?? []).map(compileHeaderRule);
  } catch (err) {
    invalid = err instanceof Error ? err.message : String(err);
  }
  let expiresAtMs = Number.POSITIVE_INFINITY;
  if (route.expiresAt !== undefined) {
    expiresAtMs = Date.parse(route.expiresAt);
    if (Number.isNaN(expiresAtMs)) invalid = `unparsable expiresAt ${JSON.stringify(route.expiresAt)}`;
  }
  const pathPrefix = route.match?.pathPrefix ? normalisePathPrefix(route.match.pathPrefix) : undefined;
  const created = route.createdAt !== undefined ? Date.parse(route.createdAt) : Number.NaN;
  const createdAtMs = Number.isNaN(created) ? Number.POSITIVE_INFINITY : created;
  return { route, intercept: route.intercept, headers, pathPrefix, expiresAtMs, createdAtMs, invalid };
}

/** Orders routes by precedence (see the header comment): Steal first, then older, then by key. */
export function byPrecedence(a: CompiledRoute, b: CompiledRoute): number {
  if (a.route.mode !== b.route.mode) return a.route.mode === 'Steal' ? -1 : 1;
  if (a.createdAtMs !== b.createdAtMs) return a.createdAtMs < b.createdAtMs ? -1 : 1;
  return a.intercept < b.intercept ? -1 : a.intercept > b.intercept ? 1 : 0;
}

/** The routes of `table` that apply to `port`, compiled and in precedence order. Invalid routes are left out. */
export function compileRoutes(table: RoutingTable, port: PortIdentity): CompiledRoutes {
  return table.routes
    .filter((r) => r.mode !== 'Outbound' && routeTargetsPort(r, port))
    .map(compileRoute)
    .filter((r) => r.invalid === undefined)
    .sort(byPrecedence);
}

/** Routes of the table that can never match, with the reason (for logging when a table arrives). */
export function invalidRoutes(table: RoutingTable): Array<{ intercept: string; reason: string }> {
  const out: Array<{ intercept: string; reason: string }> = [];
  for (const r of table.routes) {
    const c = compileRoute(r);
    if (c.invalid !== undefined) out.push({ intercept: r.intercept, reason: c.invalid });
  }
  return out;
}

/** True when every header rule of the compiled route holds for the request. */
function headersMatch(r: CompiledRoute, input: MatchInput): boolean {
  for (let i = 0; i < r.headers.length; i++) {
    const rule = r.headers[i]!;
    const value = input.header(rule.name);
    if (value === undefined || !rule.test(value)) return false;
  }
  return true;
}

/**
 * The route a request takes, or undefined for the app. Probes (kube-probe User-Agent) never match.
 * With no routes on the port this is one length check; the path is normalised only when a route
 * has a path prefix.
 */
export function matchRoute(routes: CompiledRoutes, input: MatchInput, nowMs: number): CompiledRoute | undefined {
  if (routes.length === 0) return undefined;
  if (isKubeProbe(input.header('user-agent'))) return undefined;
  let path: string | undefined;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (nowMs >= r.expiresAtMs) continue;
    if (r.pathPrefix !== undefined && !pathHasPrefix((path ??= normaliseRequestPath(input.path)), r.pathPrefix)) continue;
    if (headersMatch(r, input)) return r;
  }
  return undefined;
}

/** A Node header object: HTTP/1 `IncomingMessage.headers` or HTTP/2 request headers (lower-case names). */
export type NodeHeaders = Record<string, string | string[] | undefined>;

/** Adapts a Node header object to `MatchInput.header`. */
export function headerLookup(headers: NodeHeaders): (name: string) => string | undefined {
  return (name) => {
    const v = headers[name];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.join(', ') : v;
  };
}
