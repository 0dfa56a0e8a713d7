// Could one request match two rule sets? Decided conservatively: two matches overlap unless they are
// PROVABLY disjoint, i.e. their path prefixes are disjoint (element-wise, core/routing/path.ts) or
// one header, one baggage key, one cookie name or one query parameter name carries rules in both
// that no single value satisfies (each of these has ONE value per request: headers joined,
// baggage's last member of a key, the first cookie or query value of a name; see match.ts):
//   exact a / exact b          a ≠ b
//   exact a / prefix p         a does not start with p
//   prefix p / prefix q        neither starts with the other
//   exact a / regex r          r does not match the whole of a
// Anything else involving a regex (regex/prefix, regex/regex) counts as overlapping: deciding it
// would need an automaton intersection, and a wrong "disjoint" lets one developer take another's
// requests. Rules of different kinds never prove disjointness (a `cookie` header rule next to a
// cookie rule counts as overlapping). Used by the operator for conflicts; the sidecar's matcher uses
// the same semantics.

import type { BaggageRule, CookieRule, HeaderRule, QueryRule, ValueRule } from './table.js';
import { pathPrefixesOverlap } from './path.js';
import { compileFullMatch } from './regex.js';

export interface MatchRules {
  headers?: readonly HeaderRule[];
  baggage?: readonly BaggageRule[];
  cookies?: readonly CookieRule[];
  query?: readonly QueryRule[];
  pathPrefix?: string;
}

function regexMatches(pattern: string, value: string): boolean {
  try {
    return compileFullMatch(pattern)(value);
  } catch {
    return true; // cannot tell: overlapping (such an intercept is not routed anyway)
  }
}

/** True when no value satisfies both rules (which test the same header, key, cookie or parameter). */
export function rulesDisjoint(a: ValueRule, b: ValueRule): boolean {
  if (a.exact !== undefined) {
    if (b.exact !== undefined) return a.exact !== b.exact;
    if (b.prefix !== undefined) return !a.exact.startsWith(b.prefix);
    if (b.regex !== undefined) return !regexMatches(b.regex, a.exact);
    return false;
  }
  if (b.exact !== undefined) return rulesDisjoint(b, a);
  if (a.prefix !== undefined && b.prefix !== undefined) return !a.prefix.startsWith(b.prefix) && !b.prefix.startsWith(a.prefix);
  return false;
}

/** True when some request could match both (undefined: a global intercept, which matches everything). */
export function matchesOverlap(a: MatchRules | undefined, b: MatchRules | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  if (!pathPrefixesOverlap(a.pathPrefix, b.pathPrefix)) return false;
  if (someKeyDisjoint(a.headers, b.headers, (h) => h.name.toLowerCase())) return false;
  if (someKeyDisjoint(a.baggage, b.baggage, (r) => r.key)) return false;
  if (someKeyDisjoint(a.cookies, b.cookies, (r) => r.name)) return false;
  if (someKeyDisjoint(a.query, b.query, (r) => r.name)) return false;
  return true;
}

/** True when some rule of `a` and some rule of `b` test the same key and are disjoint. */
function someKeyDisjoint<R extends ValueRule>(a: readonly R[] | undefined, b: readonly R[] | undefined, keyOf: (r: R) => string): boolean {
  for (const ra of a ?? []) {
    const key = keyOf(ra);
    for (const rb of b ?? []) {
      if (keyOf(rb) === key && rulesDisjoint(ra, rb)) return true;
    }
  }
  return false;
}

const selects = (r: ValueRule): boolean => r.exact !== undefined || (r.prefix !== undefined && r.prefix !== '');

/**
 * True when the match selects no particular client: it is global, or none of its header, baggage,
 * cookie or query rules asks for a value (`exact`, or `prefix`). A path prefix or a regex alone
 * (`.+`, `.*`) takes everyone's requests. Broad Mirror intercepts need an explicit opt-in (docs/api.md).
 */
export function isBroadMatch(m: MatchRules | undefined): boolean {
  if (m === undefined) return true;
  return ![...(m.headers ?? []), ...(m.baggage ?? []), ...(m.cookies ?? []), ...(m.query ?? [])].some(selects);
}
