// Could one request match two rule sets? Decided conservatively: two matches overlap unless they are
// PROVABLY disjoint, i.e. their path prefixes are disjoint (element-wise, core/routing/path.ts) or
// one header carries rules in both that no single value satisfies:
//   exact a / exact b          a ≠ b
//   exact a / prefix p         a does not start with p
//   prefix p / prefix q        neither starts with the other
//   exact a / regex r          r does not match the whole of a
// Anything else involving a regex (regex/prefix, regex/regex) counts as overlapping: deciding it
// would need an automaton intersection, and a wrong "disjoint" lets one developer take another's
// requests. Used by the operator for conflicts; the sidecar's matcher uses the same semantics.

import type { HeaderRule } from './table.js';
import { pathPrefixesOverlap } from './path.js';
import { compileFullMatch } from './regex.js';

export interface MatchRules {
  headers?: readonly HeaderRule[];
  pathPrefix?: string;
}

function regexMatches(pattern: string, value: string): boolean {
  try {
    return compileFullMatch(pattern)(value);
  } catch {
    return true; // cannot tell: overlapping (such an intercept is not routed anyway)
  }
}

/** True when no header value satisfies both rules (which name the same header). */
export function rulesDisjoint(a: HeaderRule, b: HeaderRule): boolean {
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
  for (const ra of a.headers ?? []) {
    const name = ra.name.toLowerCase();
    for (const rb of b.headers ?? []) {
      if (rb.name.toLowerCase() === name && rulesDisjoint(ra, rb)) return false;
    }
  }
  return true;
}

/**
 * True when the match selects no particular client: it is global, or none of its header rules asks
 * for a value (`exact`, or `prefix`). A path prefix or a regex alone (`.+`, `.*`) takes everyone's
 * requests. Broad Mirror intercepts need an explicit opt-in (docs/api.md).
 */
export function isBroadMatch(m: MatchRules | undefined): boolean {
  if (m === undefined) return true;
  return !(m.headers ?? []).some((h) => h.exact !== undefined || (h.prefix !== undefined && h.prefix !== ''));
}
