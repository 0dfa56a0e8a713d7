// The HTTP/1.1 request head as the byte-level data plane reads it: the request line and every field
// line validated strictly (RFC 9112 §2–§6), and only what routing and framing need taken out of it.
// Pure: bytes in, a parsed head (offsets into the same bytes) or a refusal out. Anything RFC 9112
// calls ambiguous is refused here, before a byte is forwarded (docs/sidecar.md, "What the sidecar
// refuses"): a proxy that frames a request differently from the app behind it is a smuggling target.

import { METHODS } from 'node:http';

/** One field line: `name` lower-cased, value with surrounding whitespace removed; offsets into the head buffer. */
export interface FieldLine {
  name: string;
  value: string;
  /** Start of the line and end of it including its CRLF. */
  start: number;
  end: number;
}

export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

export interface RequestHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Offset of the request line (leading empty lines skipped) and the end of the head (after its empty line). */
  start: number;
  end: number;
  /** End of the request line including CRLF. */
  lineEnd: number;
  fields: FieldLine[];
  body: BodyFraming;
  /** `Connection: close` (or HTTP/1.0 without `keep-alive`). */
  close: boolean;
  /** An Upgrade request (`Connection: upgrade` + `Upgrade`). */
  upgrade: boolean;
  /** `Expect: 100-continue`. */
  expectContinue: boolean;
  /** Lower-case names the `Connection` header lists (hop-by-hop for this request). */
  connectionListed: ReadonlySet<string> | undefined;
}

export type HeadResult =
  | { kind: 'incomplete' }
  | { kind: 'refused'; status: 400 | 417 | 431; reason: string; clientErrorKind: string }
  | { kind: 'head'; head: RequestHead };

const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);
const INCOMPLETE: HeadResult = Object.freeze({ kind: 'incomplete' });
const FRAMING = new Set(['content-length', 'transfer-encoding', 'host']);

/** RFC 9110 tchar. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
/** field-vchar / SP / HTAB / obs-text: everything but CTLs (HTAB allowed) and DEL. */
const VALUE = new Uint8Array(256);
for (let c = 0x20; c <= 0xff; c++) VALUE[c] = c === 0x7f ? 0 : 1;
VALUE[0x09] = 1;
/** A request-target: visible ASCII. */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;

export function isTchar(c: number): boolean { return TCHAR[c] === 1; }
export function isFieldValueByte(c: number): boolean { return VALUE[c] === 1; }

const refuse = (reason: string, kind = 'malformed'): HeadResult => ({ kind: 'refused', status: 400, reason, clientErrorKind: kind });

/**
 * Parses the request head at `from` in `buf` (`buf` holds at least what has arrived). `maxHeadBytes`
 * bounds the head including its request line (431 beyond). Returns `incomplete` while the empty line
 * that ends the head has not arrived; a refusal as soon as a complete line is invalid.
 */
export function parseRequestHead(buf: Buffer, from: number, maxHeadBytes: number): HeadResult {
  let pos = from;
  const limit = Math.min(buf.length, from + maxHeadBytes);
  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
  while (pos + 1 < buf.length && buf[pos] === 0x0d && buf[pos + 1] === 0x0a) pos += 2;
  if (pos >= buf.length || (buf[pos] === 0x0d && pos + 1 >= buf.length)) return buf.length - from >= maxHeadBytes ? tooLarge() : INCOMPLETE;
  const start = pos;
  const lf = buf.indexOf(0x0a, pos);
  if (lf < 0 || lf >= limit) return lf < 0 && buf.length < from + maxHeadBytes ? scanPartial(buf, pos, buf.length, 'line') : tooLarge();
  if (lf === pos || buf[lf - 1] !== 0x0d) return refuse('request line must end with CRLF');
  // method SP request-target SP HTTP/1.x
  let i = pos;
  while (i < lf - 1 && TCHAR[buf[i]!] === 1) i++;
  if (i === pos || buf[i] !== 0x20) return refuse('malformed request line');
  const method = buf.toString('latin1', pos, i);
  // Node's parser (and so the sidecar before the byte path) knows a fixed set of methods.
  if (!KNOWN_METHODS.has(method)) return refuse('unknown method');
  const ts = ++i;
  while (i < lf - 1 && TARGET[buf[i]!] === 1) i++;
  if (i === ts || buf[i] !== 0x20) return refuse('malformed request line');
  const target = buf.toString('latin1', ts, i);
  i++;
  if (lf - 1 - i !== 8 || buf.toString('latin1', i, i + 7) !== 'HTTP/1.') return refuse('malformed request line');
  const minorByte = buf[i + 7]!;
  if (minorByte !== 0x30 && minorByte !== 0x31) return refuse('unsupported HTTP version');
  const minor = minorByte - 0x30;
  const lineEnd = lf + 1;

  const fields: FieldLine[] = [];
  pos = lineEnd;
  for (;;) {
    if (pos >= limit) return buf.length >= from + maxHeadBytes ? tooLarge() : INCOMPLETE;
    const c0 = buf[pos]!;
    if (c0 === 0x0d) {
      if (pos + 1 >= buf.length) return INCOMPLETE;
      if (buf[pos + 1] !== 0x0a) return refuse('bare CR in the header section');
      if (pos + 2 - from > maxHeadBytes) return tooLarge();
      return planHead(buf, method, target, minor, start, pos + 2, lineEnd, fields);
    }
    if (c0 === 0x0a) return refuse('bare LF in the header section');
    if (c0 === 0x20 || c0 === 0x09) return refuse('obs-fold (a header line starting with whitespace)');
    const eol = buf.indexOf(0x0a, pos);
    if (eol < 0 || eol >= limit) return eol < 0 && buf.length < from + maxHeadBytes ? scanPartial(buf, pos, buf.length, 'field') : tooLarge();
    const line = parseFieldLine(buf, pos, eol);
    if (typeof line === 'string') return refuse(line);
    fields.push(line);
    pos = eol + 1;
  }
}

/** Removes SP and HTAB around a list element (String.trim would also remove NBSP, which is a value byte). */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function tooLarge(): HeadResult {
  return { kind: 'refused', status: 431, reason: 'request header fields too large', clientErrorKind: 'HPE_HEADER_OVERFLOW' };
}

/** A line still arriving: refuse it now if what has arrived is already invalid (NUL, a bare CR), else wait. */
function scanPartial(buf: Buffer, from: number, to: number, what: 'line' | 'field'): HeadResult {
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c === 0 || (c === 0x0d && i + 1 < to)) return refuse(what === 'line' ? 'malformed request line' : 'invalid character in a header');
  }
  return INCOMPLETE;
}

/** `name ":" OWS value OWS CRLF`, or why not. `eol` is the LF. */
export function parseFieldLine(buf: Buffer, start: number, eol: number): FieldLine | string {
  if (buf[eol - 1] !== 0x0d || eol - 1 < start) return 'header line must end with CRLF';
  const end = eol - 1; // the CR
  let i = start;
  while (i < end && TCHAR[buf[i]!] === 1) i++;
  if (i === start) return 'invalid header name';
  if (buf[i] !== 0x3a) return 'invalid header name';
  const name = buf.toString('latin1', start, i).toLowerCase();
  i++;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
  let vEnd = end;
  for (let j = i; j < end; j++) if (VALUE[buf[j]!] !== 1) return `invalid character in header ${name}`;
  while (vEnd > i && (buf[vEnd - 1] === 0x20 || buf[vEnd - 1] === 0x09)) vEnd--;
  return { name, value: buf.toString('latin1', i, vEnd), start, end: eol + 1 };
}

/** Decides framing and the connection options from the field lines (RFC 9112 §6.3, §9.6, §7.8). */
function planHead(buf: Buffer, method: string, target: string, minor: number, start: number, end: number, lineEnd: number, fields: FieldLine[]): HeadResult {
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let connection: string | undefined;
  let hosts = 0;
  let upgradeHeader = false;
  let expect: string | undefined;
  for (const f of fields) {
    // HTAB is OWS, but Node's parser refuses it around some framing values (`\t5`, `chunked\t`).
    if ((f.name === 'content-length' || f.name === 'transfer-encoding') && buf.indexOf(0x09, f.start) >= 0 && buf.indexOf(0x09, f.start) < f.end) return refuse(`HTAB in ${f.name}`);
    switch (f.name) {
      case 'content-length':
        if (contentLength !== undefined) return refuse('several Content-Length headers');
        contentLength = f.value;
        break;
      case 'transfer-encoding': transferEncoding = transferEncoding === undefined ? f.value : `${transferEncoding},${f.value}`; break;
      case 'connection': connection = connection === undefined ? f.value : `${connection},${f.value}`; break;
      case 'host': hosts++; break;
      case 'upgrade': upgradeHeader = true; break;
      case 'expect': expect = expect === undefined ? f.value : `${expect},${f.value}`; break;
      default: break;
    }
  }
  if (minor === 1 && hosts !== 1) return refuse(hosts === 0 ? 'missing Host header' : 'several Host headers');
  if (hosts > 1) return refuse('several Host headers');
  let listed: Set<string> | undefined;
  let close = minor === 0;
  let connectionUpgrade = false;
  if (connection !== undefined) {
    for (const t of connection.split(',')) {
      const token = trimOws(t).toLowerCase();
      if (token === '') continue;
      if (FRAMING.has(token)) return refuse(`Connection must not name ${token}`, 'connection_names_framing');
      if (token === 'close') close = true;
      else if (token === 'keep-alive') { if (minor === 0) close = false; }
      else if (token === 'upgrade') connectionUpgrade = true;
      (listed ??= new Set()).add(token);
    }
  }
  let body: BodyFraming = { kind: 'none' };
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) return refuse('Content-Length together with Transfer-Encoding');
    if (minor === 0) return refuse('Transfer-Encoding in an HTTP/1.0 request');
    // Empty list elements are valid HTTP, but parsers disagree on them (Node's reads `chunked,` as
    // not chunked): refused, so the app can never frame the body differently.
    const codings = transferEncoding.split(',').map(trimOws);
    if (codings.includes('')) return refuse('empty element in Transfer-Encoding');
    const last = codings.at(-1)?.toLowerCase();
    if (last !== 'chunked') return refuse('Transfer-Encoding must end with chunked');
    for (let k = 0; k < codings.length - 1; k++) {
      const c = codings[k]!;
      if (c.toLowerCase() === 'chunked' || ![...c].every((ch) => TCHAR[ch.charCodeAt(0)] === 1)) return refuse('invalid Transfer-Encoding');
    }
    body = { kind: 'chunked' };
  } else if (contentLength !== undefined) {
    if (!/^\d{1,15}$/.test(contentLength)) return refuse('invalid Content-Length'); // no sign, list, hex or HTAB
    const length = Number(contentLength);
    if (length > 0) body = { kind: 'length', length };
  }
  let expectContinue = false;
  if (expect !== undefined) {
    if (trimOws(expect).toLowerCase() !== '100-continue') return { kind: 'refused', status: 417, reason: 'unsupported Expect', clientErrorKind: 'expectation' };
    expectContinue = true;
  }
  if (method === 'CONNECT') return refuse('CONNECT is not supported');
  return {
    kind: 'head',
    head: {
      method, target, minor, start, end, lineEnd, fields, body, close,
      upgrade: upgradeHeader && connectionUpgrade, expectContinue, connectionListed: listed,
    },
  };
}
