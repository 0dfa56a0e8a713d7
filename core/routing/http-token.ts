// RFC 9110 lexical pieces the routing-key parsers share (baggage.ts, cookies.ts).

/** RFC 9110 §5.6.2 token: a header name, a baggage key, a cookie name. */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Strips RFC 9110 OWS (spaces and horizontal tabs) from both ends. */
export function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && (s.charCodeAt(start) === 0x20 || s.charCodeAt(start) === 0x09)) start++;
  while (end > start && (s.charCodeAt(end - 1) === 0x20 || s.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}
