// The W3C `baggage` header (W3C Baggage, "HTTP header format"), parsed for routing:
//
//   baggage-string = list-member 0*179( OWS "," OWS list-member )
//   list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
//   key = token; value = *baggage-octet (printable ASCII without space, DQUOTE, comma, semicolon
//   and backslash), percent-encoded
//
// Decisions (docs/api.md):
// - several `baggage` headers are one list: Node joins them with ", " before we see them, which is
//   the list separator, so nothing is lost;
// - values are percent-decoded as UTF-8 (`%20` is a space, `+` stays `+`); a `%` not followed by
//   two hex digits stays as it is; an invalid UTF-8 sequence becomes U+FFFD, as the spec requires;
// - keys are case-sensitive and compared as written;
// - properties (`;…`) are ignored;
// - a malformed member (no `=`, a key that is not a token, a value with a character outside
//   baggage-octet) is skipped: it can never match, and the other members still count, as
//   OpenTelemetry's W3CBaggagePropagator does when it extracts; nothing ever fails;
// - a key that appears twice has its LAST value, as OpenTelemetry's propagators keep it (JS and
//   Go store members in a map), so a request matches the same way before and after a service that
//   propagates with them. One value per key is also what lets conflict detection call two exact
//   values of one key disjoint (overlap.ts).

import { TOKEN, trimOws } from './http-token.js';

const BAGGAGE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Percent-decodes an ASCII baggage value as UTF-8; invalid sequences become U+FFFD, a lone `%` stays. */
export function decodeBaggageValue(raw: string): string {
  if (!raw.includes('%')) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        bytes.push(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    bytes.push(c);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The members of a `baggage` header value: key → decoded value (the last one of a repeated key). */
export function parseBaggage(header: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const member of header.split(',')) {
    const semi = member.indexOf(';');
    const pair = semi === -1 ? member : member.slice(0, semi);
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const key = trimOws(pair.slice(0, eq));
    const raw = trimOws(pair.slice(eq + 1));
    if (!TOKEN.test(key) || !BAGGAGE_VALUE.test(raw)) continue;
    out.set(key, decodeBaggageValue(raw));
  }
  return out;
}
