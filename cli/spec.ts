// Pure translation of command-line words into Intercept specs: workload references, header rules,
// the local target, the Intercept's name, and whether an existing Intercept can be adopted.

import type { Intercept, InterceptSpec, WorkloadKind } from '../core/api/intercept.js';
import { parseDuration } from '../core/api/duration.js';
import { API_GROUP, API_VERSION, INTERCEPT_KIND } from '../core/constants.js';
import type { HeaderRule, InterceptMode } from '../core/routing/table.js';
import { compileFullMatch } from '../core/routing/regex.js';

export interface WorkloadRef {
  kind: WorkloadKind;
  name: string;
}

const KIND_ALIASES: Record<string, WorkloadKind> = {
  deployment: 'Deployment', deployments: 'Deployment', deploy: 'Deployment', 'deployment.apps': 'Deployment',
  statefulset: 'StatefulSet', statefulsets: 'StatefulSet', sts: 'StatefulSet', 'statefulset.apps': 'StatefulSet',
  replicaset: 'ReplicaSet', replicasets: 'ReplicaSet', rs: 'ReplicaSet', 'replicaset.apps': 'ReplicaSet',
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `checkout`, `deploy/checkout`, `statefulset/db`, `rs/checkout-7d9f` (kubectl's spellings). */
export function parseWorkloadRef(text: string): WorkloadRef {
  const slash = text.indexOf('/');
  const kindWord = slash < 0 ? 'deployment' : text.slice(0, slash).toLowerCase();
  const name = slash < 0 ? text : text.slice(slash + 1);
  const kind = KIND_ALIASES[kindWord];
  if (!kind) throw new UsageError(`unsupported workload kind "${text.slice(0, slash)}": use deployment/NAME, statefulset/NAME or replicaset/NAME`);
  if (!name || !DNS_SUBDOMAIN.test(name) || name.length > 253) throw new UsageError(`"${name}" is not a valid workload name`);
  return { kind, name };
}

/**
 * `--header` values: `name=value` (exact), `name^=prefix` (prefix), `name~=regex` (anchored
 * regex). Header names are case-insensitive; values are compared as written.
 */
export function parseHeaderRule(text: string): HeaderRule {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--header ${text}: expected NAME=VALUE (or NAME^=PREFIX, NAME~=REGEX)`);
  let name = text.slice(0, eq).trim();
  const value = text.slice(eq + 1);
  let op: 'exact' | 'prefix' | 'regex' = 'exact';
  if (name.endsWith('^')) { op = 'prefix'; name = name.slice(0, -1); }
  else if (name.endsWith('~')) { op = 'regex'; name = name.slice(0, -1); }
  if (!HEADER_NAME.test(name)) throw new UsageError(`--header ${text}: "${name}" is not a valid HTTP header name`);
  if (value === '') throw new UsageError(`--header ${text}: the value is empty`);
  if (op === 'regex') {
    try { compileFullMatch(value); } catch (err) { throw new UsageError(`--header ${text}: "${value}" is not a valid RE2 regular expression (${err instanceof Error ? err.message : String(err)})`); }
  }
  return { name: name.toLowerCase(), [op]: value };
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

/** `<first header value>-<workload>`, cut to a DNS label of at most 63 characters; `<workload>-global` without headers. */
export function buildInterceptName(workload: string, headers: readonly HeaderRule[], owner?: string): string {
  const first = headers[0];
  const who = (first?.exact ?? first?.prefix ?? owner?.split('@')[0] ?? 'global');
  const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  const base = [slug(who) || 'dev', slug(workload)].filter(Boolean).join('-');
  return base.slice(0, 63).replace(/-+$/, '');
}

export interface InterceptRequest {
  name: string;
  namespace: string;
  workload: WorkloadRef;
  port: string | number;
  headers: HeaderRule[];
  pathPrefix?: string;
  mode: InterceptMode;
  ttl?: string;
  owner?: string;
}

function buildInterceptSpec(r: InterceptRequest): InterceptSpec {
  const spec: InterceptSpec = { workload: { kind: r.workload.kind, name: r.workload.name }, port: r.port, mode: r.mode };
  if (r.headers.length > 0 || r.pathPrefix) {
    spec.match = {};
    if (r.headers.length > 0) spec.match.headers = r.headers.map((h) => ({ ...h }));
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
  if (e.workload.kind !== wanted.workload.kind || e.workload.name !== wanted.workload.name) diffs.push(`workload ${e.workload.kind}/${e.workload.name}`);
  if (String(e.port ?? 'http') !== String(wanted.port ?? 'http')) diffs.push(`port ${e.port ?? 'http'}`);
  if ((e.mode ?? 'Steal') !== (wanted.mode ?? 'Steal')) diffs.push(`mode ${e.mode ?? 'Steal'}`);
  if (canonicalMatch(e.match) !== canonicalMatch(wanted.match)) diffs.push(`match ${describeMatch(e.match)}`);
  if (existing.metadata.deletionTimestamp) return 'it is being deleted';
  return diffs.length ? `it has ${diffs.join(', ')}` : undefined;
}

function canonicalMatch(m: InterceptSpec['match']): string {
  if (!m) return '';
  const headers = (m.headers ?? []).map((h) => `${h.name.toLowerCase()}|${h.exact ?? ''}|${h.prefix ?? ''}|${h.regex ?? ''}`).sort();
  return JSON.stringify([headers, m.pathPrefix ?? '']);
}

/** `x-detour-user=alice, path under /api` — the match as a person reads it; `all requests` for a global intercept. */
export function describeMatch(m: InterceptSpec['match']): string {
  if (!m) return 'all requests';
  const parts = (m.headers ?? []).map((h) => (h.exact !== undefined ? `${h.name}=${h.exact}` : h.prefix !== undefined ? `${h.name}^=${h.prefix}` : `${h.name}~=${h.regex ?? ''}`));
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
