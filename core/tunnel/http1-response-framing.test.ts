import { describe, expect, it } from '@jest/globals';
import { Http1ResponseFraming, ResponseFramingError } from './http1-response-framing.js';

interface Case {
  name: string;
  bytes: string;
  head?: boolean;
  /** What follows the response on the connection (must not be consumed). */
  next?: string;
  status: number;
  body: string;
  keepAlive: boolean;
  trailers?: string[];
  /** Completes only when the connection ends. */
  closeDelimited?: boolean;
  interim?: number[];
}

const CASES: Case[] = [
  { name: 'Content-Length', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', next: 'HTTP/1.1 204 No Content\r\n\r\n', status: 200, body: 'hello', keepAlive: true },
  { name: 'Content-Length 0', bytes: 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', next: 'x', status: 200, body: '', keepAlive: true },
  { name: 'same Content-Length twice', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', keepAlive: true },
  { name: 'chunked with extensions and trailers', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-Sum: abc\r\nX-Pod: laptop\r\n\r\n', next: 'HTTP/1.1', status: 200, body: 'hello!', keepAlive: true, trailers: ['X-Sum', 'abc', 'X-Pod', 'laptop'] },
  { name: 'chunked, upper-case hex', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n', status: 200, body: '0123456789', keepAlive: true, trailers: [] },
  { name: 'chunked wins over Content-Length', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n', status: 200, body: 'ok', keepAlive: true, trailers: [] },
  { name: 'HEAD: no body whatever the length says', head: true, bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', next: 'HTTP/1.1 200 OK\r\n', status: 200, body: '', keepAlive: true },
  { name: '204 and 304 have no body', bytes: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', next: 'z', status: 304, body: '', keepAlive: true },
  { name: 'interim 100 and 103 before the answer', bytes: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nk', status: 201, body: 'k', keepAlive: true, interim: [100, 103] },
  { name: 'Connection: close', bytes: 'HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 1\r\n\r\na', status: 200, body: 'a', keepAlive: false },
  { name: 'HTTP/1.0 closes unless keep-alive', bytes: 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na', status: 200, body: 'a', keepAlive: false },
  { name: 'HTTP/1.0 keep-alive', bytes: 'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\na', status: 200, body: 'a', keepAlive: true },
  { name: 'close-delimited', bytes: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end', status: 200, body: 'until the end', keepAlive: false, closeDelimited: true },
  { name: 'a coding other than chunked last: close-delimited', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz', status: 200, body: 'zz', keepAlive: false, closeDelimited: true },
];

function run(c: Case, pieces: Buffer[]) {
  const body: Buffer[] = [];
  const interim: number[] = [];
  let trailers: string[] | undefined;
  const f = new Http1ResponseFraming(c.head ?? false, {
    onHead: (h, isInterim) => { if (isInterim) interim.push(h.status); },
    onBody: (d) => body.push(Buffer.from(d)),
    onTrailers: (t) => { trailers = t; },
  });
  let consumed = 0;
  for (const p of pieces) {
    if (f.complete) break;
    consumed += f.push(p);
  }
  if (c.closeDelimited) {
    expect(f.complete).toBe(false);
    expect(f.end()).toBe(true);
  }
  return { f, consumed, body: Buffer.concat(body).toString('latin1'), interim, trailers };
}

describe('Http1ResponseFraming', () => {
  for (const c of CASES) {
    for (const split of ['whole', 'byte by byte'] as const) {
      it(`${c.name} (${split})`, () => {
        const all = Buffer.from(c.bytes + (c.next ?? ''), 'latin1');
        const pieces = split === 'whole' ? [all] : [...all].map((b) => Buffer.from([b]));
        const r = run(c, pieces);
        expect(r.f.complete).toBe(true);
        expect(r.f.status).toBe(c.status);
        expect(r.body).toBe(c.body);
        expect(r.f.keepAlive).toBe(c.keepAlive);
        expect(r.consumed).toBe(Buffer.byteLength(c.bytes, 'latin1'));
        if (c.trailers) expect(r.trailers).toEqual(c.trailers);
        expect(r.interim).toEqual(c.interim ?? []);
      });
    }
  }

  const BAD: Array<[string, string]> = [
    ['not a status line', 'HTTP/2 200 OK\r\n\r\n'],
    ['conflicting Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'],
    ['non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\n\r\n'],
    ['invalid chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['chunk data without CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n'],
  ];
  for (const [name, bytes] of BAD) {
    it(`refuses ${name}`, () => {
      const f = new Http1ResponseFraming(false);
      expect(() => f.push(Buffer.from(bytes, 'latin1'))).toThrow(ResponseFramingError);
    });
  }

  it('a connection that ends in the middle of a counted body did not complete the response', () => {
    const f = new Http1ResponseFraming(false);
    f.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    expect(f.started).toBe(true);
    expect(f.end()).toBe(false);
    expect(f.complete).toBe(false);
  });

  it('bounds the head', () => {
    const f = new Http1ResponseFraming(false, {}, 1024);
    expect(() => f.push(Buffer.from(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(2000)}`))).toThrow(/larger than 1024/);
  });
});
