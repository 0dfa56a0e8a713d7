// Query parameters of a request target, parsed for routing.
//
// Decisions (docs/api.md): names and values are decoded as application/x-www-form-urlencoded
// (WHATWG URLSearchParams: `+` is a space, percent-encodings are UTF-8, an invalid one is kept as
// written, invalid UTF-8 becomes U+FFFD); names are case-sensitive; a parameter sent twice has its
// FIRST value (URLSearchParams.get, Go's Query().Get), so a value belongs to one request only and
// two exact values of one parameter are disjoint for conflict detection; `?flag` is `flag` with the
// empty value; the fragment is not part of the query.

/** The query parameters of a request target (`/path?a=1&b=2`): decoded name → first decoded value. */
export function parseQuery(target: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = target.indexOf('?');
  if (q === -1) return out;
  const f = target.indexOf('#', q);
  const query = target.slice(q + 1, f === -1 ? undefined : f);
  for (const [name, value] of new URLSearchParams(query)) if (!out.has(name)) out.set(name, value);
  return out;
}
