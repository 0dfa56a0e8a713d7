import { describe, expect, it } from '@jest/globals';
import { isBroadMatch, matchesOverlap, type MatchRules } from './overlap.js';

const h = (rule: Record<string, string>, name = 'x-detour-user') => ({ name, ...rule });

describe('isBroadMatch (a Mirror that would copy everyone\'s requests)', () => {
  it.each<[string, MatchRules | undefined, boolean]>([
    ['global', undefined, true],
    ['path prefix only', { pathPrefix: '/api' }, true],
    ['regex only', { headers: [h({ regex: '.+' })] }, true],
    ['regex that looks like a value is still a regex', { headers: [h({ regex: 'alice' })] }, true],
    ['exact value', { headers: [h({ exact: 'alice' })] }, false],
    ['prefix value', { headers: [h({ prefix: 'ali' })] }, false],
    ['exact next to a regex', { headers: [h({ regex: '.*' }, 'x-env'), h({ exact: 'alice' })] }, false],
  ])('%s → %s', (_n, m, want) => expect(isBroadMatch(m)).toBe(want));
});

describe('matchesOverlap', () => {
  it.each<[string, MatchRules | undefined, MatchRules | undefined, boolean]>([
    ['global and anything', undefined, { headers: [h({ exact: 'a' })] }, true],
    ['exact a / exact b', { headers: [h({ exact: 'a' })] }, { headers: [h({ exact: 'b' })] }, false],
    ['exact / exact on different headers', { headers: [h({ exact: 'a' })] }, { headers: [h({ exact: 'b' }, 'x-other')] }, true],
    ['exact inside prefix', { headers: [h({ exact: 'alice' })] }, { headers: [h({ prefix: 'al' })] }, true],
    ['exact outside prefix (either order)', { headers: [h({ prefix: 'bo' })] }, { headers: [h({ exact: 'alice' })] }, false],
    ['exact the regex refuses', { headers: [h({ regex: '[0-9]+' })] }, { headers: [h({ exact: 'alice' })] }, false],
    ['exact the regex accepts', { headers: [h({ exact: '42' })] }, { headers: [h({ regex: '[0-9]+' })] }, true],
    ['an RE2-invalid regex is taken as overlapping', { headers: [h({ exact: 'a' })] }, { headers: [h({ regex: '(?=a)' })] }, true],
    ['disjoint paths, same header', { headers: [h({ exact: 'a' })], pathPrefix: '/a' }, { headers: [h({ exact: 'a' })], pathPrefix: '/b' }, false],
    ['/api vs /apix', { pathPrefix: '/api' }, { pathPrefix: '/apix' }, false],
    ['/api/ vs /api/v1', { pathPrefix: '/api/' }, { pathPrefix: '/api/v1' }, true],
  ])('%s → %s', (_n, a, b, want) => {
    expect(matchesOverlap(a, b)).toBe(want);
    expect(matchesOverlap(b, a)).toBe(want);
  });
});

describe('matchesOverlap with baggage, cookie and query rules', () => {
  const bag = (key: string, rule: Record<string, string>) => ({ baggage: [{ key, ...rule }] });
  const cookie = (name: string, rule: Record<string, string>) => ({ cookies: [{ name, ...rule }] });
  const query = (name: string, rule: Record<string, string>) => ({ query: [{ name, ...rule }] });
  it.each<[string, MatchRules, MatchRules, boolean]>([
    ['baggage exact a / exact b', bag('u', { exact: 'alice' }), bag('u', { exact: 'bob' }), false],
    ['baggage same value', bag('u', { exact: 'alice' }), bag('u', { exact: 'alice' }), true],
    ['baggage keys are case-sensitive (U and u are different keys)', bag('U', { exact: 'alice' }), bag('u', { exact: 'bob' }), true],
    ['baggage prefix / exact outside', bag('u', { prefix: 'bo' }), bag('u', { exact: 'alice' }), false],
    ['baggage regex / exact it accepts', bag('u', { regex: 'a.*' }), bag('u', { exact: 'alice' }), true],
    ['baggage regex / exact it refuses', bag('u', { regex: '[0-9]+' }), bag('u', { exact: 'alice' }), false],
    ['cookie exact a / exact b', cookie('u', { exact: 'alice' }), cookie('u', { exact: 'bob' }), false],
    ['cookie different names', cookie('u', { exact: 'alice' }), cookie('v', { exact: 'bob' }), true],
    ['query exact a / exact b', query('u', { exact: 'alice' }), query('u', { exact: 'bob' }), false],
    ['query prefix / prefix', query('u', { prefix: 'al' }), query('u', { prefix: 'ali' }), true],
    ['same key in different kinds proves nothing', bag('u', { exact: 'alice' }), cookie('u', { exact: 'bob' }), true],
    ['header rule vs baggage rule proves nothing', { headers: [h({ exact: 'alice' })] }, bag('x-detour-user', { exact: 'bob' }), true],
    ['one disjoint kind is enough', { headers: [h({ exact: 'a' })], ...cookie('c', { exact: '1' }) }, { headers: [h({ exact: 'a' })], ...cookie('c', { exact: '2' }) }, false],
  ])('%s → %s', (_n, a, b, want) => {
    expect(matchesOverlap(a, b)).toBe(want);
    expect(matchesOverlap(b, a)).toBe(want);
  });

  it.each<[string, MatchRules, boolean]>([
    ['baggage exact selects a client', bag('u', { exact: 'alice' }), false],
    ['cookie prefix selects a client', cookie('u', { prefix: 'al' }), false],
    ['query regex alone is broad', query('u', { regex: '.+' }), true],
  ])('isBroadMatch: %s', (_n, m, want) => expect(isBroadMatch(m)).toBe(want));
});
