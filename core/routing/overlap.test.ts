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
