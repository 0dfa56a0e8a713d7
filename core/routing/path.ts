// Request paths and path prefixes, with the Kubernetes Gateway API's PathPrefix semantics: the
// prefix matches element by element (`/api` matches `/api`, `/api/` and `/api/x`, never `/apix`),
// a trailing `/` of the prefix is ignored, and `/` matches every path.
//
// Both sides are compared in one normal form (RFC 3986 §6.2.2): percent-encoded unreserved
// characters are decoded (`/%61pi` is `/api`), other percent-encodings get upper-case hex digits
// (`%2f` is `%2F`, and stays encoded: it is not a separator), and dot segments are resolved
// (`/x/../api` is `/api`), so a request reaches the route its path means to the app behind, never
// one it only resembles. Empty segments are kept (`//api` does not match `/api`). Decided in
// docs/api.md.

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;
const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

function isUnreserved(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function normalisePercent(path: string): string {
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i !== -1 && i + 2 < path.length; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) continue;
    const code = hi * 16 + lo;
    out += path.slice(from, i) + (isUnreserved(code) ? String.fromCharCode(code) : `%${path.slice(i + 1, i + 3).toUpperCase()}`);
    from = i + 3;
    i += 2;
  }
  return from === 0 ? path : out + path.slice(from);
}

/** RFC 3986 §5.2.4 remove_dot_segments, for an absolute path. */
function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..' && out.length > 0) out.pop();
      if (last) out.push('');
    } else {
      out.push(s);
    }
  }
  return `/${out.join('/')}`;
}

/**
 * The path of a request target in normal form, without query or fragment. An absolute-form target
 * (`http://host/api`) yields its path; a target that is no path at all (`*`, authority-form) is
 * returned as it is and matches no path prefix. Costs one scan when there is nothing to normalise.
 */
export function normaliseRequestPath(target: string): string {
  let path = target;
  const q = path.indexOf('?');
  if (q !== -1) path = path.slice(0, q);
  const f = path.indexOf('#');
  if (f !== -1) path = path.slice(0, f);
  if (path.charCodeAt(0) !== 0x2f) {
    const m = ABSOLUTE_FORM.exec(path);
    if (!m) return path;
    path = path.slice(m[0].length) || '/';
  }
  if (path.includes('%')) path = normalisePercent(path);
  if (path.includes('/.') && DOT_SEGMENT.test(path)) path = removeDotSegments(path);
  return path;
}

/** A `pathPrefix` in the form `pathHasPrefix` takes: normalised, without trailing `/` (`/` becomes ``). */
export function normalisePathPrefix(prefix: string): string {
  return normaliseRequestPath(prefix).replace(/\/+$/, '');
}

/** Element-wise prefix test of a normalised path against a normalised prefix. */
export function pathHasPrefix(path: string, prefix: string): boolean {
  if (prefix === '') return path.charCodeAt(0) === 0x2f;
  return path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f);
}

/** True when some path matches both prefixes (as written in specs; undefined: no path condition). */
export function pathPrefixesOverlap(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  const na = normalisePathPrefix(a);
  const nb = normalisePathPrefix(b);
  return pathHasPrefix(nb || '/', na) || pathHasPrefix(na || '/', nb);
}
