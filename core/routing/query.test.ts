import { describe, expect, it } from '@jest/globals';
import { parseQuery } from './query.js';

describe('parseQuery', () => {
  it.each<[string, string, Record<string, string>]>([
    ['no query', '/api', {}],
    ['empty query', '/api?', {}],
    ['two parameters', '/api?user=alice&debug=1', { user: 'alice', debug: '1' }],
    ['percent-decoded (UTF-8)', '/?user=Am%C3%A9lie', { user: 'Amélie' }],
    ['+ is a space', '/?q=a+b', { q: 'a b' }],
    ['names are decoded too', '/?us%65r=alice', { user: 'alice' }],
    ['a repeated name keeps its first value', '/?user=alice&user=bob', { user: 'alice' }],
    ['a name without = has the empty value', '/?flag&a=1', { flag: '', a: '1' }],
    ['the fragment is not part of the query', '/?a=1#b=2', { a: '1' }],
    ['absolute-form target', 'http://shop.local/api?a=1', { a: '1' }],
    ['names are case-sensitive', '/?User=a&user=b', { User: 'a', user: 'b' }],
    ['an invalid percent-encoding is kept as written', '/?a=%zz', { a: '%zz' }],
    ['invalid UTF-8 becomes U+FFFD', '/?a=%FF', { a: '\uFFFD' }],
    ['a ? inside the query belongs to the value', '/?a=b?c', { a: 'b?c' }],
  ])('%s', (_name, target, want) => {
    expect(Object.fromEntries(parseQuery(target))).toEqual(want);
  });
});
