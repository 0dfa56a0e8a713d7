import { describe, expect, it } from '@jest/globals';
import { imageVersion, parseRelease, planSkew, releaseLine, type Skew } from './release.js';

describe('parseRelease', () => {
  it.each<[string | undefined, ReturnType<typeof parseRelease>]>([
    ['0.2.0', { major: 0, minor: 2, patch: 0 }],
    ['v1.10.3', { major: 1, minor: 10, patch: 3 }],
    ['0.2.0-rc.1', { major: 0, minor: 2, patch: 0 }],
    ['test', undefined],
    ['latest', undefined],
    ['0.2', undefined],
    ['01.2.0', undefined],
    [undefined, undefined],
  ])('%s', (text, want) => expect(parseRelease(text)).toEqual(want));
});

describe('imageVersion', () => {
  it.each<[string, string | undefined]>([
    ['ghcr.io/detour-dev/detour:0.1.0', '0.1.0'],
    ['ghcr.io/detour-dev/detour:v0.2.1@sha256:abc', '0.2.1'],
    ['localhost:5000/detour:0.3.0', '0.3.0'],
    ['localhost:5000/detour', undefined],
    ['ghcr.io/detour-dev/detour:test', undefined],
    ['ghcr.io/detour-dev/detour@sha256:abc', undefined],
  ])('%s', (image, want) => expect(imageVersion(image)).toBe(want));
});

describe('planSkew (peer relative to self)', () => {
  it.each<[string | undefined, string, Skew]>([
    ['0.2.0', '0.2.3', 'current'],
    ['0.2.5', '0.2.0', 'current'],
    ['0.1.0', '0.2.0', 'previous'],
    ['0.0.9', '0.2.0', 'older'],
    ['0.9.0', '1.0.0', 'older'],
    ['1.2.0', '1.3.0', 'previous'],
    ['0.3.0', '0.2.0', 'newer'],
    ['1.0.0', '0.9.0', 'newer'],
    [undefined, '0.2.0', 'unknown'],
    ['test', '0.2.0', 'unknown'],
  ])('%s against %s: %s', (peer, self, want) => expect(planSkew(peer, self)).toBe(want));

  it('names release lines', () => {
    expect(releaseLine('0.2.0')).toBe('0.2.x');
    expect(releaseLine('test')).toBe('test');
  });
});
