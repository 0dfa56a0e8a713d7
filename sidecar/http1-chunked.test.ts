import { describe, expect, it } from '@jest/globals';
import { ChunkedFraming } from './http1-chunked.js';

/** Feeds `text` in pieces of `step` bytes; returns the offset past the body, or -1, and the error. */
function frame(text: string, step: number): { end: number; error: string | undefined } {
  const buf = Buffer.from(text, 'latin1');
  const f = new ChunkedFraming(64);
  for (let i = 0; i < buf.length; i += step) {
    const r = f.feed(buf, i, Math.min(buf.length, i + step));
    if (r < 0) return { end: -1, error: f.error };
    if (f.done) return { end: r, error: undefined };
  }
  return { end: buf.length, error: 'incomplete' };
}

describe('ChunkedFraming', () => {
  const next = 'GET / HTTP/1.1\r\n\r\n';
  it.each([
    ['one chunk', '5\r\nhello\r\n0\r\n\r\n'],
    ['hex sizes in either case', 'A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n'],
    ['leading zeros', '005\r\nhello\r\n000\r\n\r\n'],
    ['extensions', '5;a=b;c\r\nhello\r\n0;last\r\n\r\n'],
    ['trailers', '5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Other:two\r\n\r\n'],
  ])('finds the end of %s, byte by byte and at once', (_name, body) => {
    for (const step of [1, 3, 1000]) expect(frame(body + next, step)).toEqual({ end: body.length, error: undefined });
  });

  it.each([
    ['a non-hex size', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['a signed size', '-5\r\nhello\r\n0\r\n\r\n'],
    ['0x', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['an oversized size', `${'f'.repeat(14)}\r\n`],
    ['whitespace after the size', '5 \r\nhello\r\n0\r\n\r\n'],
    ['whitespace before an extension', '5 ;a\r\nhello\r\n0\r\n\r\n'],
    ['a quoted extension value', '5;a="b"\r\nhello\r\n0\r\n\r\n'],
    ['NUL in an extension', '5;a\u0000\r\nhello\r\n0\r\n\r\n'],
    ['an empty size', '\r\nhello\r\n0\r\n\r\n'],
    ['bare LF line ends', '5\nhello\n0\n\n'],
    ['data longer than its size', '5\r\nhelloXX\r\n0\r\n\r\n'],
    ['obs-fold in trailers', '0\r\nX-A: b\r\n c\r\n\r\n'],
    ['Content-Length in trailers', '0\r\nContent-Length: 5\r\n\r\n'],
    ['trailers over the limit', `0\r\nX-A: ${'b'.repeat(100)}\r\n\r\n`],
  ])('refuses %s', (_name, body) => {
    for (const step of [1, 1000]) expect(frame(body, step).end).toBe(-1);
  });
});
