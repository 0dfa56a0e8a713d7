// Pure translation of command-line words into Intercept specs: workload references, header rules,
// the local target, the Intercept's name, and whether an existing Intercept can be adopted.

import type { Intercept, InterceptSpec } from '../core/api/intercept.js';
import { parseDuration } from '../core/api/duration.js';
import { API_GROUP, API_VERSION, INTERCEPT_KIND } from '../core/constants.js';
import type { BaggageRule, CookieRule, HeaderRule, InterceptMode, QueryRule, ValueRule } from '../core/routing/table.js';
import { compileFullMatch } from '../core/routing/regex.js';
import { formatWorkload, type WorkloadKind, type WorkloadName } from '../core/workload-ref.js';


const KIND_ALIASES: Record<string, WorkloadKind> = {
  deployment: 'Deployment', deployments: 'Deployment', deploy: 'Deployment', 'deployment.apps': 'Deployment',
  statefulset: 'StatefulSet', statefulsets: 'StatefulSet', sts: 'StatefulSet', 'statefulset.apps': 'StatefulSet',
  replicaset: 'ReplicaSet', replicasets: 'ReplicaSet', rs: 'ReplicaSet', 'replicaset.apps': 'ReplicaSet',
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `checkout`, `deploy/checkout`, `statefulset/db`, `rs/checkout-7d9f` (kubectl's spellings). */
export function parseWorkloadRef(text: string): WorkloadName {
  const slash = text.indexOf('/');
  const kindWord = slash < 0 ? 'deployment' : text.slice(0, slash).toLowerCase();
  const name = slash < 0 ? text : text.slice(slash + 1);
  const kind = KIND_ALIASES[kindWord];
  if (!kind) throw new UsageError(`unsupported workload kind "${text.slice(0, slash)}": use deployment/NAME, statefulset/NAME or replicaset/NAME`);
  if (!name || !DNS_SUBDOMAIN.test(name) || name.length > 253) throw new UsageError(`"${name}" is not a valid workload name`);
  return { kind, name };
}

type RuleOp = 'exact' | 'prefix' | 'regex';

/** `name=value` (exact), `name^=prefix` (prefix), `name~=regex` (anchored regex), for `flag`. */
function parseRuleText(flag: string, what: string, text: string): { name: string; op: RuleOp; value: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`${flag} ${text}: expected ${what}=VALUE (or ${what}^=PREFIX, ${what}~=REGEX)`);
  let name = text.slice(0, eq).trim();
  const value = text.slice(eq + 1);
  let op: RuleOp = 'exact';
  if (name.endsWith('^')) { op = 'prefix'; name = name.slice(0, -1); }
  else if (name.endsWith('~')) { op = 'regex'; name = name.slice(0, -1); }
  if (value === '') throw new UsageError(`${flag} ${text}: the value is empty`);
  if (op === 'regex') {
    try { compileFullMatch(value); } catch (err) { throw new UsageError(`${flag} ${text}: "${value}" is not a valid RE2 regular expression (${err instanceof Error ? err.message : String(err)})`); }
  }
  return { name, op, value };
}

/**
 * `--header` values: `name=value` (exact), `name^=prefix` (prefix), `name~=regex` (anchored
 * regex). Header names are case-insensitive; values are compared as written.
 */
export function parseHeaderRule(text: string): HeaderRule {
  const { name, op, value } = parseRuleText('--header', 'NAME', text);
  if (!HEADER_NAME.test(name)) throw new UsageError(`--header ${text}: "${name}" is not a valid HTTP header name`);
  return { name: name.toLowerCase(), [op]: value };
}

/** `--baggage KEY=VALUE` (and `^=`, `~=`): a member of the W3C `baggage` header; the value is compared decoded. */
export function parseBaggageRule(text: string): BaggageRule {
  const { name, op, value } = parseRuleText('--baggage', 'KEY', text);
  if (!HEADER_NAME.test(name)) throw new UsageError(`--baggage ${text}: "${name}" is not a valid baggage key (letters, digits and !#$%&'*+-.^_\`|~)`);
  return { key: name, [op]: value };
}

/** RFC 6265 cookie-octets as the sidecar accepts them (space and comma too, as browsers send them). */
const COOKIE_VALUE = /^[\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*$/;

/** `--cookie NAME=VALUE` (and `^=`, `~=`): a cookie of the `Cookie` header; the value is compared as sent. */
export function parseCookieRule(text: string): CookieRule {
  const { name, op, value } = parseRuleText('--cookie', 'NAME', text);
  if (!HEADER_NAME.test(name)) throw new UsageError(`--cookie ${text}: "${name}" is not a valid cookie name (letters, digits and !#$%&'*+-.^_\`|~)`);
  if (op !== 'regex' && !COOKIE_VALUE.test(value)) {
    throw new UsageError(`--cookie ${text}: a cookie value is printable ASCII without '"', ';' and '\\' (it is compared as sent, not decoded; percent-encode it yourself if your app does)`);
  }
  return { name, [op]: value };
}

/** `--query NAME=VALUE` (and `^=`, `~=`): a query parameter; name and value are compared decoded. */
export function parseQueryRule(text: string): QueryRule {
  const { name, op, value } = parseRuleText('--query', 'NAME', text);
  if ([...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) throw new UsageError(`--query ${text}: the name has a control character`);
  return { name, [op]: value };
}

/** `3000`, `localhost:3000`, `127.0.0.1:3000`, `http://localhost:3000` → `http://host:port`. */
export function parseTarget(text: string): string {
  let url: URL;
  const candidate = /^\d+$/.test(text) ? `http://localhost:${text}` : /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  try { url = new URL(candidate); } catch { throw new UsageError(`--to ${text}: expected PORT, HOST:PORT or http://HOST:PORT`); }
  if (url.protocol !== 'http:') throw new UsageError(`--to ${text}: only http:// local services are supported (h2c and WebSocket work over it)`);
  if (!url.port) throw new UsageError(`--to ${text}: name the port, e.g. localhost:3000`);
  if (url.pathname !== '/' || url.search) throw new UsageError(`--to ${text}: give only host and port; requests keep their own path`);
  return `http://${url.host}`;
}

/** A port name or number as the Intercept's `spec.port` takes it. */
export function parsePort(text: string): string | number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < 1 || n > 65535) throw new UsageError(`--port ${text}: a port number is 1-65535`);
    return n;
  }
  if (text.length > 15 || !PORT_NAME.test(text) || !/[a-z]/.test(text) || text.includes('--')) throw new UsageError(`--port ${text}: not a port name or number`);
  return text;
}

export function parseMode(text: string): InterceptMode {
  const t = text.toLowerCase();
  if (t === 'steal') return 'Steal';
  if (t === 'mirror') return 'Mirror';
  throw new UsageError(`--mode ${text}: use steal (matching requests come to you) or mirror (a copy comes to you, the cluster answers)`);
}

export function parseTtl(text: string): string {
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`--ttl ${text}: expected a duration such as 2h, 90m or 1h30m`);
  if (ms < 1000) throw new UsageError(`--ttl ${text}: at least 1s`);
  return text;
}

/** `<first rule's value>-<workload>`, cut to a DNS label of at most 63 characters; `<owner>-<workload>` or `global-<workload>` without rules. */
export function buildInterceptName(workload: string, rules: readonly ValueRule[], owner?: string): string {
  const first = rules[0];
  const who = (first?.exact ?? first?.prefix ?? owner?.split('@')[0] ?? 'global');
  const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  const base = [slug(who) || 'dev', slug(workload)].filter(Boolean).join('-');
  return base.slice(0, 63).replace(/-+$/, '');
}

export interface InterceptRequest {
  name: string;
  namespace: string;
  workload: WorkloadName;
  port: string | number;
  headers: HeaderRule[];
  baggage?: BaggageRule[];
  cookies?: CookieRule[];
  query?: QueryRule[];
  pathPrefix?: string;
  mode: InterceptMode;
  ttl?: string;
  owner?: string;
}

function buildInterceptSpec(r: InterceptRequest): InterceptSpec {
  const spec: InterceptSpec = { workload: { kind: r.workload.kind, name: r.workload.name }, port: r.port, mode: r.mode };
  const baggage = r.baggage ?? [];
  const cookies = r.cookies ?? [];
  const query = r.query ?? [];
  if (r.headers.length > 0 || baggage.length > 0 || cookies.length > 0 || query.length > 0 || r.pathPrefix) {
    spec.match = {};
    if (r.headers.length > 0) spec.match.headers = r.headers.map((h) => ({ ...h }));
    if (baggage.length > 0) spec.match.baggage = baggage.map((b) => ({ ...b }));
    if (cookies.length > 0) spec.match.cookies = cookies.map((c) => ({ ...c }));
    if (query.length > 0) spec.match.query = query.map((q) => ({ ...q }));
    if (r.pathPrefix) spec.match.pathPrefix = r.pathPrefix;
  }
  if (r.owner) spec.owner = r.owner;
  if (r.ttl) spec.ttl = r.ttl;
  return spec;
}

export function buildIntercept(r: InterceptRequest): Intercept {
  return {
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: INTERCEPT_KIND,
    metadata: { name: r.name, namespace: r.namespace, labels: { 'app.kubernetes.io/created-by': 'detour-cli' } },
    spec: buildInterceptSpec(r),
  };
}

/**
 * Why an existing Intercept of the same name cannot be adopted for this request (undefined: it
 * can). Compares what decides routing: workload, port, match and mode; owner and ttl may differ.
 */
export function planAdoption(existing: Intercept, wanted: InterceptSpec): string | undefined {
  const e = existing.spec;
  const diffs: string[] = [];
  if (e.workload.kind !== wanted.workload.kind || e.workload.name !== wanted.workload.name) diffs.push(`workload ${formatWorkload(e.workload)}`);
  if (String(e.port ?? 'http') !== String(wanted.port ?? 'http')) diffs.push(`port ${e.port ?? 'http'}`);
  if ((e.mode ?? 'Steal') !== (wanted.mode ?? 'Steal')) diffs.push(`mode ${e.mode ?? 'Steal'}`);
  if (canonicalMatch(e.match) !== canonicalMatch(wanted.match)) diffs.push(`match ${describeMatch(e.match)}`);
  if (existing.metadata.deletionTimestamp) return 'it is being deleted';
  return diffs.length ? `it has ${diffs.join(', ')}` : undefined;
}

function canonicalMatch(m: InterceptSpec['match']): string {
  if (!m) return '';
  const canon = (key: string, r: ValueRule) => `${key}|${r.exact ?? ''}|${r.prefix ?? ''}|${r.regex ?? ''}`;
  const headers = (m.headers ?? []).map((h) => canon(h.name.toLowerCase(), h)).sort();
  const baggage = (m.baggage ?? []).map((b) => canon(b.key, b)).sort();
  const cookies = (m.cookies ?? []).map((c) => canon(c.name, c)).sort();
  const query = (m.query ?? []).map((q) => canon(q.name, q)).sort();
  return JSON.stringify([headers, m.pathPrefix ?? '', baggage, cookies, query]);
}

/** `name=value`, `name^=prefix` or `name~=regex`, as the command line writes a rule. */
export function describeRule(name: string, r: ValueRule): string {
  return r.exact !== undefined ? `${name}=${r.exact}` : r.prefix !== undefined ? `${name}^=${r.prefix}` : `${name}~=${r.regex ?? ''}`;
}

/**
 * `x-detour-user=alice, baggage detour-user=alice, cookie c=1, query q=2, path under /api` — the
 * match as a person reads it; `all requests` for a global intercept.
 */
export function describeMatch(m: InterceptSpec['match']): string {
  if (!m) return 'all requests';
  const parts = [
    ...(m.headers ?? []).map((h) => describeRule(h.name, h)),
    ...(m.baggage ?? []).map((b) => `baggage ${describeRule(b.key, b)}`),
    ...(m.cookies ?? []).map((c) => `cookie ${describeRule(c.name, c)}`),
    ...(m.query ?? []).map((q) => `query ${describeRule(q.name, q)}`),
  ];
  if (m.pathPrefix) parts.push(`path under ${m.pathPrefix}`);
  return parts.join(', ') || 'all requests';
}

/** A mistake in how the command was written: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
