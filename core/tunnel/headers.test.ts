import { describe, expect, it } from '@jest/globals';
import { addForwardedHeaders, connectionNamesFraming, endToEndHeaders, endToEndRawHeaders, h2ToHttp1Headers } from './headers.js';
import { hashToken, tokenFromHeaders, tokenHashEquals } from './protocol.js';

describe('endToEndHeaders', () => {
  it.each([
    { name: 'drops hop-by-hop', in: { connection: 'keep-alive', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', upgrade: 'x', 'x-a': '1' }, opts: {}, out: { 'x-a': '1' } },
    { name: 'drops headers named by Connection', in: { connection: 'x-secret', 'x-secret': 's', 'x-a': '1' }, opts: {}, out: { 'x-a': '1' } },
    { name: 'never lets Connection remove framing headers', in: { connection: 'content-length, transfer-encoding, host, x-a', 'content-length': '5', host: 'h', 'x-a': '1' }, opts: {}, out: { 'content-length': '5', host: 'h' } },
    { name: 'keeps te: trailers only when asked', in: { te: 'trailers' }, opts: { keepTeTrailers: true }, out: { te: 'trailers' } },
    { name: 'drops te otherwise', in: { te: 'trailers' }, opts: {}, out: {} },
    { name: 'drops pseudo-headers when asked', in: { ':path': '/', 'x-a': '1' }, opts: { dropPseudo: true }, out: { 'x-a': '1' } },
    { name: 'drops tunnel headers when asked', in: { 'x-detour-tunnel-mirror': '1', 'x-a': '1' }, opts: { dropTunnelHeaders: true }, out: { 'x-a': '1' } },
  ])('$name', ({ in: input, opts, out }) => {
    expect(endToEndHeaders(input, opts)).toEqual(out);
  });

  it('turns :authority into host for HTTP/1', () => {
    expect(h2ToHttp1Headers({ ':authority': 'svc:80', ':path': '/', 'x-a': '1' })).toEqual({ host: 'svc:80', 'x-a': '1' });
  });

  it('filters raw headers keeping case, order and duplicates', () => {
    expect(endToEndRawHeaders(['Host', 'h', 'Connection', 'X-Gone, close', 'X-Gone', '1', 'Set-Cookie', 'a', 'Set-Cookie', 'b', 'Keep-Alive', '5']))
      .toEqual(['Host', 'h', 'Set-Cookie', 'a', 'Set-Cookie', 'b']);
  });

  it('keeps framing raw headers that Connection names', () => {
    expect(endToEndRawHeaders(['Host', 'h', 'Connection', 'Content-Length, HOST, transfer-encoding', 'Content-Length', '5']))
      .toEqual(['Host', 'h', 'Content-Length', '5']);
  });

  it.each([
    { value: 'content-length', out: 'content-length' },
    { value: 'close, Transfer-Encoding', out: 'transfer-encoding' },
    { value: ['keep-alive', ' host '], out: 'host' },
    { value: 'close, x-a', out: undefined },
    { value: undefined, out: undefined },
  ])('connectionNamesFraming($value) = $out', ({ value, out }) => {
    expect(connectionNamesFraming(value)).toBe(out);
  });

  it('appends X-Forwarded-For and sets X-Forwarded-Proto once', () => {
    const h: Record<string, string> = { 'x-forwarded-for': '10.0.0.1' };
    addForwardedHeaders(h, '::ffff:127.0.0.1', 'http');
    expect(h).toEqual({ 'x-forwarded-for': '10.0.0.1, 127.0.0.1', 'x-forwarded-proto': 'http' });
  });
});

describe('tokens', () => {
  it('reads Bearer tokens and the X-Detour-Token fallback', () => {
    expect(tokenFromHeaders({ authorization: 'Bearer abc' })).toBe('abc');
    expect(tokenFromHeaders({ authorization: 'Basic abc' })).toBeUndefined();
    expect(tokenFromHeaders({ 'x-detour-token': ' xyz ' })).toBe('xyz');
    expect(tokenFromHeaders({})).toBeUndefined();
  });

  it('compares hashes in constant time and refuses malformed ones', () => {
    expect(tokenHashEquals(hashToken('a'), hashToken('a'))).toBe(true);
    expect(tokenHashEquals(hashToken('a'), hashToken('b'))).toBe(false);
    expect(tokenHashEquals(hashToken('a'), 'zz')).toBe(false);
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
