import { describe, expect, it } from '@jest/globals';
import { parseRequestHead } from './http1-request-head.js';

const parse = (text: string, max = 16 * 1024) => parseRequestHead(Buffer.from(text, 'latin1'), 0, max);
const H = 'Host: x\r\n';

describe('parseRequestHead', () => {
  it.each([
    ['no body', `GET / HTTP/1.1\r\n${H}\r\n`, { kind: 'none' }],
    ['Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\n`, { kind: 'length', length: 5 }],
    ['Content-Length 0', `POST / HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`, { kind: 'none' }],
    ['OWS around Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length:  7 \r\n\r\n`, { kind: 'length', length: 7 }],
    ['chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`, { kind: 'chunked' }],
    ['CHUNKED', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: CHUNKED\r\n\r\n`, { kind: 'chunked' }],
    ['gzip, chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`, { kind: 'chunked' }],
    ['two TE headers ending in chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n`, { kind: 'chunked' }],
    ['leading empty lines', `\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`, { kind: 'none' }],
  ])('accepts %s', (_name, text, body) => {
    const r = parse(text);
    expect(r.kind).toBe('head');
    if (r.kind === 'head') expect(r.head.body).toEqual(body);
  });

  it('reads the connection options and the fields routing needs', () => {
    const r = parse(`PUT /a?b=1 HTTP/1.1\r\n${H}Connection: close, X-Private\r\nX-Private: s\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n`);
    expect(r.kind).toBe('head');
    if (r.kind !== 'head') return;
    expect(r.head).toMatchObject({ method: 'PUT', target: '/a?b=1', minor: 1, close: true, upgrade: false, expectContinue: true });
    expect([...r.head.connectionListed!]).toEqual(['close', 'x-private']);
    expect(r.head.fields.map((f) => [f.name, f.value])).toEqual([['host', 'x'], ['connection', 'close, X-Private'], ['x-private', 's'], ['expect', '100-continue'], ['content-length', '1']]);
    const up = parse(`GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
    expect(up.kind === 'head' && up.head.upgrade).toBe(true);
    const old = parse('GET / HTTP/1.0\r\n\r\n');
    expect(old.kind === 'head' && old.head.close).toBe(true);
  });

  it.each([
    ['CL with TE', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`, 400],
    ['two CLs', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\n`, 400],
    ['a CL list', `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\n`, 400],
    ['a signed CL', `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\n`, 400],
    ['an oversized CL', `POST / HTTP/1.1\r\n${H}Content-Length: 9999999999999999\r\n\r\n`, 400],
    ['HTAB around CL', `POST / HTTP/1.1\r\n${H}Content-Length:\t5\r\n\r\n`, 400],
    ['TE not ending in chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n`, 400],
    ['TE chunked twice', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n`, 400],
    ['TE with an empty element', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked,\r\n\r\n`, 400],
    ['TE with NBSP', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\u00a0\r\n\r\n`, 400],
    ['TE in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['obs-fold', `GET / HTTP/1.1\r\n${H}X-A: b\r\n c\r\n\r\n`, 400],
    ['whitespace before the colon', `GET / HTTP/1.1\r\n${H}X-A : b\r\n\r\n`, 400],
    ['NUL in a value', `GET / HTTP/1.1\r\n${H}X-A: a\u0000b\r\n\r\n`, 400],
    ['CR in a value', `GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, 400],
    ['bare LF after a field', `GET / HTTP/1.1\r\n${H}X-A: b\n\r\n`, 400],
    ['a bare LF request line', 'GET / HTTP/1.1\nHost: x\r\n\r\n', 400],
    ['a doubled space', `GET  / HTTP/1.1\r\n${H}\r\n`, 400],
    ['an extra token', `GET / HTTP/1.1 x\r\n${H}\r\n`, 400],
    ['HTTP/2.0', `GET / HTTP/2.0\r\n${H}\r\n`, 400],
    ['an unknown method', `get / HTTP/1.1\r\n${H}\r\n`, 400],
    ['no Host', 'GET / HTTP/1.1\r\n\r\n', 400],
    ['two Hosts', `GET / HTTP/1.1\r\n${H}${H}\r\n`, 400],
    ['Connection naming Content-Length', `GET / HTTP/1.1\r\n${H}Connection: content-length\r\n\r\n`, 400],
    ['CONNECT', `CONNECT x:443 HTTP/1.1\r\n${H}\r\n`, 400],
    ['an unknown expectation', `POST / HTTP/1.1\r\n${H}Expect: 200-ok\r\nContent-Length: 1\r\n\r\n`, 417],
    ['a head over the limit', `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(300)}\r\n\r\n`, 431],
  ])('refuses %s', (_name, text, status) => {
    expect(parse(text, 256)).toMatchObject({ kind: 'refused', status });
  });

  it('waits for a head still arriving, and refuses one that cannot fit as soon as it is over the limit', () => {
    expect(parse(`GET / HTTP/1.1\r\n${H}X-A: b`)).toEqual({ kind: 'incomplete' });
    expect(parse('GET / HTTP/1.1\r\nHost: x\r\n\r')).toEqual({ kind: 'incomplete' });
    expect(parse(`GET / HTTP/1.1\r\n${H}X-A: ${'b'.repeat(400)}`, 256)).toMatchObject({ kind: 'refused', status: 431 });
    // Invalid bytes are refused before the line ends.
    expect(parse(`GET / HTTP/1.1\r\n${H}X-A: a\u0000`)).toMatchObject({ kind: 'refused', status: 400 });
  });
});
