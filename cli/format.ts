// Pure formatting of what the CLI prints: the live request log, tables, ages, status pages.

import { stringify } from 'yaml';
import type { Intercept } from '../core/api/intercept.js';
import type { TunnelRequestEvent } from '../core/tunnel/developer.js';
import { describeMatch } from './spec.js';
import { formatWorkload } from '../core/workload-ref.js';
import { readCreator } from '../core/policy/creator.js';

/** Who created it, as admission recorded it (`-` for Intercepts from before admission recorded it). */
export function formatCreator(i: Intercept): string {
  return readCreator(i.metadata.annotations)?.username ?? '-';
}

/** `14:03:09` in local time. */
function formatClock(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `0.4 ms`, `12 ms`, `1.3 s`, `2m05s`. */
export function formatDurationMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** kubectl's age: `45s`, `3m`, `2h`, `5d`. */
export function formatAge(from: string | undefined, now: Date): string {
  if (!from) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - new Date(from).getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** One routed request: `14:03:09  GET     /api/cart  200  12 ms  checkout-7d9f-abc`, with the mirror mark and why a 502 happened. */
export function formatRequestLine(e: TunnelRequestEvent, opts: { at: Date; replica: string; explanation?: string }): string {
  const method = e.method.padEnd(7);
  const status = e.upgrade && e.status === 101 ? '101' : String(e.status);
  const parts = [formatClock(opts.at), method, e.path, status, formatDurationMs(e.durationMs), opts.replica];
  if (e.mirror) parts.push('(mirror copy)');
  let line = parts.join('  ');
  if (opts.explanation) line += `  ← ${opts.explanation}`;
  else if (e.error && e.status >= 500) line += `  ← ${e.error}`;
  return line;
}

/** Columns padded to their widest cell, two spaces apart (kubectl's table look). */
export function formatTable(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd()).join('\n');
}

/** `in 2h`, `expired`, or `never` without a ttl (`<pending>` while the operator has not computed it). */
export function formatExpiry(i: Intercept, now: Date): string {
  const at = i.status?.expiresAt;
  if (!at) return i.spec.ttl ? '<pending>' : 'never';
  return new Date(at) > now ? `in ${formatAge(now.toISOString(), new Date(at))}` : 'expired';
}

/**
 * `detour list` (`wide` adds fallback, sidecars and expiry, like kubectl's `-o wide` columns).
 * CREATOR is who admission recorded; POLICY (shown when some Intercept has one) the policy that
 * allows it, as the operator last found.
 */
export function buildListTable(items: readonly Intercept[], now: Date, allNamespaces: boolean, wide = false): string {
  const policies = items.some((i) => i.status?.allowedBy);
  const header = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'WORKLOAD', 'MATCH', 'MODE', ...(wide ? ['FALLBACK'] : []), 'OWNER', 'PHASE', 'CLIENTS', ...(wide ? ['SIDECARS', 'EXPIRES'] : []), 'CREATOR', ...(policies ? ['POLICY'] : []), 'AGE'];
  const rows = items.map((i) => [
    ...(allNamespaces ? [i.metadata.namespace] : []),
    i.metadata.name,
    `${i.spec.workload.kind.toLowerCase()}/${i.spec.workload.name}:${i.spec.port ?? 'http'}`,
    describeMatch(i.spec.match),
    i.spec.mode ?? 'Steal',
    ...(wide ? [i.spec.fallback ?? 'App'] : []),
    i.spec.owner ?? '',
    i.metadata.deletionTimestamp ? 'Terminating' : i.status?.phase ?? '<none>',
    String(i.status?.clients ?? 0),
    ...(wide ? [i.status?.sidecars ? `${i.status.sidecars.ready}/${i.status.sidecars.desired}` : '-', formatExpiry(i, now)] : []),
    formatCreator(i),
    ...(policies ? [i.status?.allowedBy ?? '-'] : []),
    formatAge(i.metadata.creationTimestamp, now),
  ]);
  return formatTable([header, ...rows]);
}

export interface EventJson {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
  firstTimestamp?: string;
  metadata?: { creationTimestamp?: string };
}

/** `detour status`: what the Intercept does, whether it works, and what happened lately. */
export function formatStatus(i: Intercept, events: readonly EventJson[], now: Date): string {
  const s = i.status ?? {};
  const lines = [
    `Intercept ${i.metadata.namespace}/${i.metadata.name}`,
    `  Workload:  ${formatWorkload(i.spec.workload)} port ${i.spec.port ?? 'http'}`,
    `  Match:     ${describeMatch(i.spec.match)}`,
    `  Mode:      ${i.spec.mode ?? 'Steal'} (fallback ${i.spec.fallback ?? 'App'})`,
  ];
  if (i.spec.owner) lines.push(`  Owner:     ${i.spec.owner}`);
  const creator = readCreator(i.metadata.annotations);
  lines.push(`  Creator:   ${creator ? `${creator.username}${creator.groups.length ? ` (groups ${creator.groups.join(', ')})` : ''}` : '- (not recorded: created before admission recorded creators)'}`);
  lines.push(`  Policy:    ${s.allowedBy ?? (s.conditions?.find((c) => c.type === 'Routed')?.reason === 'PolicyDenied' ? 'none allows it (see Routed)' : 'none selects this workload')}`);
  if (i.spec.connectors?.length) lines.push(`  Connect:   ${i.spec.connectors.map((c) => `${c.kind} ${c.namespace ? `${c.namespace}/` : ''}${c.name}`).join(', ')}`);
  lines.push(`  Phase:     ${i.metadata.deletionTimestamp ? 'Terminating' : s.phase ?? '<none yet>'}`);
  lines.push(`  Sidecars:  ${s.sidecars ? `${s.sidecars.ready}/${s.sidecars.desired} ready` : '-'}`);
  lines.push(`  Clients:   ${s.clients ?? 0}`);
  // The operator's version and its SidecarsCurrent verdict (issue 19.4): a sidecar only a restart replaces.
  const current = s.conditions?.find((c) => c.type === 'SidecarsCurrent');
  if (s.operatorVersion || current) lines.push(`  Versions:  ${[s.operatorVersion ? `operator ${s.operatorVersion}` : '', current ? `${current.status === 'False' ? `${current.reason}: ` : ''}${current.message}` : ''].filter(Boolean).join('; ')}`);
  if (s.expiresAt) lines.push(`  Expires:   ${s.expiresAt}${new Date(s.expiresAt) > now ? ` (in ${formatAge(now.toISOString(), new Date(s.expiresAt))})` : ' (expired)'}`);
  else lines.push(`  Expires:   ${formatExpiry(i, now)}`);
  lines.push(`  Age:       ${formatAge(i.metadata.creationTimestamp, now)}`);
  lines.push('', 'Conditions:');
  if (!s.conditions?.length) lines.push('  (none yet: is the Detour operator running?)');
  else lines.push(formatTable([['  TYPE', 'STATUS', 'REASON', 'MESSAGE'], ...s.conditions.map((c) => [`  ${c.type}`, c.status, c.reason, c.message])]));
  lines.push('', 'Events:');
  if (events.length === 0) lines.push('  (none)');
  else {
    const when = (e: EventJson) => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
    const sorted = [...events].sort((a, b) => String(when(a)).localeCompare(String(when(b)))).slice(-10);
    lines.push(formatTable([['  AGE', 'TYPE', 'REASON', 'MESSAGE'], ...sorted.map((e) => [`  ${formatAge(when(e), now)}`, e.type ?? '', e.reason ?? '', `${e.message ?? ''}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''}`])]));
  }
  return lines.join('\n');
}

/** `-o json|yaml`: a List of the Intercepts without managedFields (kubectl's shape). */
export function formatObjects(items: readonly Intercept[], output: 'json' | 'yaml'): string {
  const clean = items.map((i) => {
    const { managedFields: _m, ...metadata } = i.metadata as Intercept['metadata'] & { managedFields?: unknown };
    return { ...i, metadata };
  });
  const list = { apiVersion: 'v1', kind: 'List', items: clean };
  return output === 'json' ? JSON.stringify(list, null, 2) : stringify(list).trimEnd();
}
