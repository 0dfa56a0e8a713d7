// The response corpus (test/fixtures/response-corpus.ts) through both response-framing readers:
// the sidecar's byte path reading the app (parseResponseHead + ChunkedFraming, as
// http1-byte-path.ts drives them) and the tunnel's developer end reading the local server
// (Http1ResponseFraming, whole and byte by byte). Each must end every valid response exactly where
// it ends, with the right keep-alive decision, and refuse every hostile one; neither may ever
// accept a response with another boundary (that desyncs a pooled connection).

import { describe, expect, it } from '@jest/globals';
import { Http1ResponseFraming, ResponseFramingError } from '../core/tunnel/http1-response-framing.js';
import { buildResponseCorpus, type ResponseCase } from '../test/fixtures/response-corpus.js';
import { ChunkedFraming } from './http1-chunked.js';
import { parseResponseHead } from './http1-response-head.js';

type Outcome = { kind: 'end'; at: number; keepAlive: boolean } | { kind: 'close' } | { kind: 'refuse'; why: string } | { kind: 'incomplete' };

const MAX_HEAD = 64 * 1024;

/** What the byte path decides for the app's answer in `buf` (interim 1xx heads skipped, as it does). */
function bytePath(buf: Buffer, headRequest: boolean): Outcome {
  let off = 0;
  for (;;) {
    const r = parseResponseHead(buf, off, MAX_HEAD, headRequest);
    if (r.kind === 'invalid') return { kind: 'refuse', why: r.reason };
    if (r.kind === 'incomplete') return { kind: 'incomplete' };
    const h = r.head;
    if (h.status === 101) return { kind: 'refuse', why: '101 without an upgrade' };
    if (h.status < 200) { off = h.end; continue; }
    switch (h.body.kind) {
      case 'none': return { kind: 'end', at: h.end, keepAlive: !h.close };
      case 'length': return h.end + h.body.length <= buf.length ? { kind: 'end', at: h.end + h.body.length, keepAlive: !h.close } : { kind: 'incomplete' };
      case 'close': return { kind: 'close' };
      case 'chunked': {
        const chunked = new ChunkedFraming(MAX_HEAD);
        const end = chunked.feed(buf, h.end, buf.length);
        if (end < 0) return { kind: 'refuse', why: chunked.error ?? 'invalid chunked framing' };
        return chunked.done ? { kind: 'end', at: end, keepAlive: !h.close } : { kind: 'incomplete' };
      }
    }
  }
}

/** What the developer end decides, fed `pieces` in order. */
function developerEnd(pieces: Buffer[], headRequest: boolean): Outcome {
  const f = new Http1ResponseFraming(headRequest);
  let consumed = 0;
  try {
    for (const p of pieces) {
      if (f.complete) break;
      consumed += f.push(p);
    }
  } catch (err) {
    if (err instanceof ResponseFramingError) return { kind: 'refuse', why: err.message };
    throw err;
  }
  if (f.complete) return { kind: 'end', at: consumed, keepAlive: f.keepAlive };
  return f.closeDelimited ? { kind: 'close' } : { kind: 'incomplete' };
}

function expected(c: ResponseCase): Outcome['kind'] {
  return c.expect.kind;
}

const corpus = buildResponseCorpus();

describe('response framing corpus', () => {
  it('has hundreds of generated cases and the hostile ones', () => {
    expect(corpus.length).toBeGreaterThan(800);
    expect(corpus.filter((c) => c.expect.kind === 'refuse').length).toBeGreaterThanOrEqual(20);
  });

  const readers: Array<[string, (c: ResponseCase, all: Buffer) => Outcome]> = [
    ['sidecar byte path', (c, all) => bytePath(all, c.headRequest)],
    ['developer end, whole', (c, all) => developerEnd([all], c.headRequest)],
    ['developer end, byte by byte', (c, all) => developerEnd([...all].map((b) => Buffer.from([b])), c.headRequest)],
  ];
  for (const [reader, read] of readers) {
    it.each(corpus.map((c) => [c.id, c] as const))(`${reader}: %s`, (_id, c) => {
      const all = Buffer.from(c.bytes + c.next, 'latin1');
      const outcome = read(c, all);
      expect(outcome.kind).toBe(expected(c));
      if (c.expect.kind === 'end' && outcome.kind === 'end') {
        expect(outcome.at).toBe(Buffer.byteLength(c.bytes, 'latin1'));
        expect(outcome.keepAlive).toBe(c.expect.keepAlive);
      }
    });
  }
});
