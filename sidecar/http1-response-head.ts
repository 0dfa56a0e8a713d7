// The app's HTTP/1 response head, read only for framing (RFC 9112 §6.3): where the body ends
// (none for HEAD, 1xx, 204 and 304; Content-Length; chunked; else until the app closes) and
// whether the connection can carry another request. The bytes themselves are forwarded unchanged.
// Pure.

import { parseFieldLine } from './http1-request-head.js';

export type ResponseBody = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

export interface ResponseHead {
  status: number;
  /** Offset just past the head's empty line. */
  end: number;
  body: ResponseBody;
  /** The app will close the connection after this response (or must be assumed to). */
  close: boolean;
}

export type ResponseHeadResult = { kind: 'incomplete' } | { kind: 'invalid'; reason: string } | { kind: 'head'; head: ResponseHead };

const INCOMPLETE: ResponseHeadResult = Object.freeze({ kind: 'incomplete' });

/** Parses the response head at `from`; `headRequest` when the request was HEAD (no body follows whatever the headers say). */
export function parseResponseHead(buf: Buffer, from: number, maxHeadBytes: number, headRequest: boolean): ResponseHeadResult {
  const lf = buf.indexOf(0x0a, from);
  if (lf < 0) return buf.length - from > maxHeadBytes ? { kind: 'invalid', reason: 'response head too large' } : INCOMPLETE;
  // HTTP/1.x SP 3DIGIT SP reason
  if (lf - from < 13 || buf[lf - 1] !== 0x0d || buf.toString('latin1', from, from + 7) !== 'HTTP/1.' || buf[from + 8] !== 0x20) return { kind: 'invalid', reason: 'malformed status line' };
  const minor = buf[from + 7]! - 0x30;
  const status = Number(buf.toString('latin1', from + 9, from + 12));
  if ((minor !== 0 && minor !== 1) || !(status >= 100 && status <= 999) || (lf - from > 13 && buf[from + 12] !== 0x20)) return { kind: 'invalid', reason: 'malformed status line' };
  let contentLength: string | undefined;
  let chunked: boolean | undefined;
  let close = minor === 0;
  let pos = lf + 1;
  for (;;) {
    if (pos - from > maxHeadBytes) return { kind: 'invalid', reason: 'response head too large' };
    if (pos + 1 >= buf.length) return INCOMPLETE;
    if (buf[pos] === 0x0d && buf[pos + 1] === 0x0a) { pos += 2; break; }
    const eol = buf.indexOf(0x0a, pos);
    if (eol < 0) return buf.length - from > maxHeadBytes ? { kind: 'invalid', reason: 'response head too large' } : INCOMPLETE;
    if (buf[eol - 1] !== 0x0d) return { kind: 'invalid', reason: 'header line must end with CRLF' };
    // Only three fields matter for framing: the others are passed on without being decoded.
    const nameLength = buf.indexOf(0x3a, pos) - pos;
    if (nameLength !== 14 && nameLength !== 17 && nameLength !== 10) { pos = eol + 1; continue; }
    const f = parseFieldLine(buf, pos, eol);
    if (typeof f === 'string') return { kind: 'invalid', reason: f };
    if (f.name === 'content-length') {
      if (contentLength !== undefined && contentLength !== f.value) return { kind: 'invalid', reason: 'several Content-Length headers' };
      contentLength = f.value;
    } else if (f.name === 'transfer-encoding') {
      chunked = f.value.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '').at(-1) === 'chunked';
    } else if (f.name === 'connection') {
      for (const t of f.value.split(',')) {
        const token = t.trim().toLowerCase();
        if (token === 'close') close = true;
        else if (token === 'keep-alive' && minor === 0) close = false;
      }
    }
    pos = eol + 1;
  }
  let body: ResponseBody;
  if (headRequest || status < 200 || status === 204 || status === 304) body = { kind: 'none' };
  else if (chunked === true) body = { kind: 'chunked' };
  else if (chunked === false) { body = { kind: 'close' }; close = true; }
  else if (contentLength !== undefined) {
    if (!/^\d{1,15}$/.test(contentLength)) return { kind: 'invalid', reason: 'invalid Content-Length' };
    const length = Number(contentLength);
    body = length === 0 ? { kind: 'none' } : { kind: 'length', length };
  } else { body = { kind: 'close' }; close = true; }
  return { kind: 'head', head: { status, end: pos, body, close } };
}
