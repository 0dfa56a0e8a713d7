import { describe, expect, it } from '@jest/globals';
import { sidecarVersionOf, type InjectionRecord } from './injection-record.js';

const record = (over: Partial<InjectionRecord>): InjectionRecord => ({
  version: 1, sidecar: 'detour-sidecar', native: true, workload: 'Deployment/checkout', ports: [], renamed: [], redirected: [], adminPort: 15020, tunnelPort: 15021, image: 'ghcr.io/detour-dev/detour:0.2.0', ...over,
});

describe('sidecarVersionOf', () => {
  it.each<[string, Partial<InjectionRecord>, string | undefined]>([
    ['a 0.2 record says it', { sidecarVersion: '0.2.0', image: 'ghcr.io/detour-dev/detour:test' }, '0.2.0'],
    ['a 0.1 record: the image tag', { image: 'ghcr.io/detour-dev/detour:0.1.0' }, '0.1.0'],
    ['a 0.1 record with a digest-pinned image: unknown', { image: 'ghcr.io/detour-dev/detour@sha256:ab' }, undefined],
    ['a 0.1 record with a non-release tag: unknown', { image: 'ghcr.io/detour-dev/detour:test' }, undefined],
  ])('%s', (_, over, want) => expect(sidecarVersionOf(record(over))).toBe(want));
});
