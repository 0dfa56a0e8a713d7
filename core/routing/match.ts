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
// - `baggage`, `cookies` and `query` rules test one member of the W3C `baggage` header
//   (baggage.ts), one cookie (cookies.ts) or one query parameter (query.ts) with the same value
//   tests; a missing key never matches, a malformed member/cookie is as good as missing. They are
//   parsed lazily: only when a route that reaches them has such a rule, once per request;
// - every header rule, key rule and the path prefix must hold; a route without `match` is global;
// - a route whose `expiresAt` has passed never matches; a route whose regex RE2 refuses never matches;
// - precedence: Steal before Mirror (a copy never takes a request away from a Steal), then the
//   older intercept (`createdAt`), then the intercept key. The first matching route wins. The
//   operator never routes two Steal intercepts that some request could match both, so among Steal
//   routes this order only decides during a table change.
// - requests from the kubelet's probes (User-Agent `kube-probe/…`) never match.
// - a route with mode Outbound never matches: it is in the table only for its token hash.

import { KEY_RULES_GUARD, type HeaderRule, type Route, type RoutingTable, type ValueRule } from './table.js';
import { parseBaggage } from './baggage.js';
import { parseCookies } from './cookies.js';
import { normalisePathPrefix, normaliseRequestPath, pathHasPrefix } from './path.js';
import { parseQuery } from './query.js';
import { compileFullMatch } from './regex.js';

export interface CompiledHeaderRule {
  /** Lower-case header name. */
  name: string;
  test: (value: string) => boolean;
}

/** A baggage key, cookie name or query parameter name (case-sensitive) and its value test. */
export interface CompiledKeyRule {
  key: string;
  test: (value: string) => boolean;
}

export interface CompiledRoute {
  route: Route;
  /** `namespace/name` of the Intercept (same as route.intercept). */
  intercept: string;
  headers: CompiledHeaderRule[];
  baggage: CompiledKeyRule[];
  cookies: CompiledKeyRule[];
  query: CompiledKeyRule[];
  /** True when the route has a baggage, cookie or query rule (the request's keys must be parsed). */
  keyed: boolean;
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

/** The value test of a rule; `what` names the rule in the error. Throws on a pattern RE2 refuses. */
export function compileValueTest(rule: ValueRule, what: string): (value: string) => boolean {
  if (rule.exact !== undefined) {
    const expected = rule.exact;
    return (v) => v === expected;
  }
  if (rule.prefix !== undefined) {
    const prefix = rule.prefix;
    return (v) => v.startsWith(prefix);
  }
  if (rule.regex !== undefined) return compileFullMatch(rule.regex); // throws on a pattern RE2 refuses; compileRoute catches
  throw new Error(`${what} has none of exact, prefix, regex`);
}

export function compileHeaderRule(rule: HeaderRule): CompiledHeaderRule {
  return { name: rule.name.toLowerCase(), test: compileValueTest(rule, `header rule for ${rule.name}`) };
}

function compileKeyRule(key: string, rule: ValueRule, what: string): CompiledKeyRule {
  return { key, test: compileValueTest(rule, `${what} rule for ${key}`) };
}

export function compileRoute(route: Route): CompiledRoute {
  let invalid: string | undefined;
  let headers: CompiledHeaderRule[] = [];
  let baggage: CompiledKeyRule[] = [];
  let cookies: CompiledKeyRule[] = [];
  let query: CompiledKeyRule[] = [];
  try {
    headers = (route.match?.headers ?? []).filter((h) => h.name !== KEY_RULES_GUARD.name).map(compileHeaderRule);
    baggage = (route.match?.baggage ?? []).map((r) => compileKeyRule(r.key, r, 'baggage'));
    cookies = (route.match?.cookies ?? []).map((r) => compileKeyRule(r.name, r, 'cookie'));
    query = (route.match?.query ?? []).map((r) => compileKeyRule(r.name, r, 'query'));
  } catch (err) {
    invalid = err instanceof Error ? err.message : String(err);
  }
  const keyed = baggage.length + cookies.length + query.length > 0;
  let expiresAtMs = Number.POSITIVE_INFINITY;
  if (route.expiresAt !== undefined) {
    expiresAtMs = Date.parse(route.expiresAt);
    if (Number.isNaN(expiresAtMs)) invalid = `unparsable expiresAt ${JSON.stringify(route.expiresAt)}`;
  }
  const pathPrefix = route.match?.pathPrefix ? normalisePathPrefix(route.match.pathPrefix) : undefined;
  const created = route.createdAt !== undefined ? Date.parse(route.createdAt) : Number.NaN;
  const createdAtMs = Number.isNaN(created) ? Number.POSITIVE_INFINITY : created;
  return { route, intercept: route.intercept, headers, baggage, cookies, query, keyed, pathPrefix, expiresAtMs, createdAtMs, invalid };
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
 * The routing keys of one request (baggage members, cookies, query parameters), each parsed on
 * first use and at most once per request.
 */
class RequestKeys {
  private baggageMap: Map<string, string> | undefined;
  private cookieMap: Map<string, string> | undefined;
  private queryMap: Map<string, string> | undefined;

  constructor(private readonly input: MatchInput) {}

  baggage(): Map<string, string> {
    return (this.baggageMap ??= parseBaggage(this.input.header('baggage') ?? ''));
  }

  cookies(): Map<string, string> {
    return (this.cookieMap ??= parseCookies(this.input.header('cookie') ?? ''));
  }

  query(): Map<string, string> {
    return (this.queryMap ??= parseQuery(this.input.path));
  }
}

function keyRulesHold(rules: readonly CompiledKeyRule[], map: Map<string, string>): boolean {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    const value = map.get(rule.key);
    if (value === undefined || !rule.test(value)) return false;
  }
  return true;
}

/** True when every baggage, cookie and query rule of the route holds. */
function keyRulesMatch(r: CompiledRoute, keys: RequestKeys): boolean {
  return (r.baggage.length === 0 || keyRulesHold(r.baggage, keys.baggage()))
    && (r.cookies.length === 0 || keyRulesHold(r.cookies, keys.cookies()))
    && (r.query.length === 0 || keyRulesHold(r.query, keys.query()));
}

/**
 * The route a request takes, or undefined for the app. Probes (kube-probe User-Agent) never match.
 * With no routes on the port this is one length check; the path is normalised only when a route
 * has a path prefix, and baggage, cookies and query are parsed only when a route still in the
 * running has such a rule.
 */
export function matchRoute(routes: CompiledRoutes, input: MatchInput, nowMs: number): CompiledRoute | undefined {
  if (routes.length === 0) return undefined;
  if (isKubeProbe(input.header('user-agent'))) return undefined;
  let path: string | undefined;
  let keys: RequestKeys | undefined;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (nowMs >= r.expiresAtMs) continue;
    if (r.pathPrefix !== undefined && !pathHasPrefix((path ??= normaliseRequestPath(input.path)), r.pathPrefix)) continue;
    if (!headersMatch(r, input)) continue;
    if (r.keyed && !keyRulesMatch(r, (keys ??= new RequestKeys(input)))) continue;
    return r;
  }
  return undefined;
}

/** A Node header object: HTTP/1 `IncomingMessage.headers` or HTTP/2 request headers (lower-case names). */
export type NodeHeaders = Record<string, string | string[] | undefined>;

/**
 * Adapts a Node header object to `MatchInput.header`. Node already joins repeated headers into one
 * string (`cookie` with "; ", others with ", "); an array (set by hand) is joined the same way.
 */
export function headerLookup(headers: NodeHeaders): (name: string) => string | undefined {
  return (name) => {
    const v = headers[name];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.join(name === 'cookie' ? '; ' : ', ') : v;
  };
}
