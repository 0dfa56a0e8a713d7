// The `Cookie` request header (RFC 6265 §4.2, §5.4), parsed for routing:
//
//   cookie-string = cookie-pair *( ";" SP cookie-pair ); cookie-pair = cookie-name "=" cookie-value
//   cookie-name = token; cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE )
//
// Decisions (docs/api.md):
// - several `Cookie` headers are one list: Node joins them with "; " (HTTP/1 and HTTP/2, where
//   clients split cookies into separate header fields, RFC 9113 §8.2.3);
// - separators are parsed leniently (`;` with or without the space, OWS trimmed around names and
//   values), as browsers and servers do;
// - names are case-sensitive; the value is compared as sent, NOT percent-decoded (RFC 6265 calls
//   it opaque; an application that encodes its values gets the encoded form, like Go's net/http);
//   one pair of surrounding double quotes is removed (`a="x"` is `x`, as in Go's net/http);
// - a malformed pair (no `=`, a name that is not a token, a value with a control character, a
//   non-ASCII byte, a DQUOTE or backslash inside) is skipped: it never matches, the other cookies
//   still count; space and comma inside a value are accepted (browsers send them); nothing fails;
// - a name sent twice has its FIRST value (RFC 6265 §5.4 sends longer paths first, so the first
//   is the most specific; Go's Request.Cookie and Express's cookie parser do the same).

import { TOKEN, trimOws } from './http-token.js';

const COOKIE_VALUE = /^[\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*$/;

/** The cookies of a `Cookie` header value: name → value as sent (the first one of a repeated name). */
export function parseCookies(header: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = trimOws(pair.slice(0, eq));
    let value = trimOws(pair.slice(eq + 1));
    if (value.length >= 2 && value.charCodeAt(0) === 0x22 && value.charCodeAt(value.length - 1) === 0x22) value = value.slice(1, -1);
    if (!TOKEN.test(name) || !COOKIE_VALUE.test(value) || out.has(name)) continue;
    out.set(name, value);
  }
  return out;
}
