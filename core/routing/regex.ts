// Header regexes, compiled with re2js: a pure-JavaScript port of RE2 (RE2/J). Matching takes time
// linear in the length of the value whatever the pattern (no backtracking), and the syntax is RE2's,
// the dialect the API server checks the CRD's `regex` fields with (Go's regexp, through CEL).

import { RE2JS } from 're2js';

/** Compiles `pattern` once; the returned test is true when the WHOLE value matches. Throws on a pattern RE2 refuses. */
export function compileFullMatch(pattern: string): (value: string) => boolean {
  const re = RE2JS.compile(pattern);
  return (value) => re.testExact(value);
}
