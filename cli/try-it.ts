// Pure: how to send a request that an Intercept matches, printed by `detour intercept` and
// `detour connect` once requests flow: a curl line (headers, baggage, cookies, query and path), and
// for cookies how to set them in a browser (a person testing a web page cannot add headers).

import type { Intercept } from '../core/api/intercept.js';
import type { ValueRule } from '../core/routing/table.js';

/** Single-quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A value the rule accepts: the exact value, the prefix itself, or a placeholder for a regex. */
function sampleValue(r: ValueRule): string {
  if (r.exact !== undefined) return r.exact;
  if (r.prefix !== undefined) return r.prefix;
  return `<value matching ${r.regex ?? ''}>`;
}

/**
 * Lines that show how to send a matching request, or none for a global intercept (every request
 * matches). `host` is the address the caller uses for the workload (its Service name by default).
 */
export function buildTryIt(intercept: Intercept, host = intercept.spec.workload.name): string[] {
  const m = intercept.spec.match;
  if (!m) return [];
  const args: string[] = ['curl'];
  for (const h of m.headers ?? []) args.push('-H', shellQuote(`${h.name}: ${sampleValue(h)}`));
  const baggage = m.baggage ?? [];
  if (baggage.length > 0) args.push('-H', shellQuote(`baggage: ${baggage.map((b) => `${b.key}=${b.regex !== undefined ? sampleValue(b) : encodeURIComponent(sampleValue(b))}`).join(',')}`));
  const cookies = (m.cookies ?? []).map((c) => `${c.name}=${sampleValue(c)}`);
  if (cookies.length > 0) args.push('-b', shellQuote(cookies.join('; ')));
  const query = (m.query ?? []).map((q) => `${encodeURIComponent(q.name)}=${q.regex !== undefined ? sampleValue(q) : encodeURIComponent(sampleValue(q))}`);
  const path = m.pathPrefix ?? '/';
  args.push(shellQuote(`http://${host}${path}${query.length > 0 ? `?${query.join('&')}` : ''}`));
  const lines = [`Send a matching request (from where ${host} is reachable): ${args.join(' ')}`];
  if (cookies.length > 0) {
    const set = (m.cookies ?? []).map((c) => `document.cookie = ${JSON.stringify(`${c.name}=${sampleValue(c)}; path=/`)}`).join('; ');
    lines.push(`In a browser: open the page, then in the devtools console run: ${set}`);
  }
  if (baggage.length > 0) lines.push('Services instrumented with OpenTelemetry pass the baggage header on by themselves; send it to the first one.');
  return lines;
}
