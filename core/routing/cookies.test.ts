import { describe, expect, it } from '@jest/globals';
import { parseCookies } from './cookies.js';

// Examples from RFC 6265 (§3.1, §4.2.1, §5.4), then what browsers send, then malformed input.
describe('parseCookies', () => {
  it.each<[string, string, Record<string, string>]>([
    ['RFC 6265 §3.1: one cookie', 'SID=31d4d96e407aad42', { SID: '31d4d96e407aad42' }],
    ['RFC 6265 §3.1: two cookies', 'SID=31d4d96e407aad42; lang=en-US', { SID: '31d4d96e407aad42', lang: 'en-US' }],
    ['RFC 6265 §4.1.1: quoted value (quotes removed)', 'theme="dark"', { theme: 'dark' }],
    ['two Cookie headers as Node joins them', 'a=1; b=2', { a: '1', b: '2' }],
    ['no space after ;', 'a=1;b=2', { a: '1', b: '2' }],
    ['OWS around names and values', '  a = 1 ;\tb=2\t', { a: '1', b: '2' }],
    ['empty value', 'a=', { a: '' }],
    ['"" is the empty value', 'a=""', { a: '' }],
    ['= inside the value is kept', 'token=abc==', { token: 'abc==' }],
    ['not percent-decoded', 'u=al%69ce', { u: 'al%69ce' }],
    ['space and comma inside a value (browsers send them)', 'a=x y,z', { a: 'x y,z' }],
    ['names are case-sensitive', 'User=a; user=b', { User: 'a', user: 'b' }],
    ['a repeated name keeps its first value', 'a=first; a=second', { a: 'first' }],
    ['a trailing ;', 'a=1;', { a: '1' }],
    // malformed: the pair is skipped, the others count
    ['empty header', '', {}],
    ['pair without =', 'flag; a=1', { a: '1' }],
    ['empty name', '=x; a=1', { a: '1' }],
    ['name with a space inside', 'my name=x; a=1', { a: '1' }],
    ['name with a non-token character', 'a@b=x; a=1', { a: '1' }],
    ['backslash in the value', 'b=x\\y; a=1', { a: '1' }],
    ['DQUOTE inside the value', 'b=x"y; a=1', { a: '1' }],
    ['unbalanced quote', 'b="xy; a=1', { a: '1' }],
    ['non-ASCII byte (UTF-8 read as latin1)', 'b=Jos\u00c3\u00a9; a=1', { a: '1' }],
    ['a control character', 'b=x\u0001; a=1', { a: '1' }],
  ])('%s', (_name, header, want) => {
    expect(Object.fromEntries(parseCookies(header))).toEqual(want);
  });
});
