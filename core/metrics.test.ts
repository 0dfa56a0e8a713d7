import { describe, expect, it } from '@jest/globals';
import { buildRegistry } from './metrics.js';
import { DETOUR_VERSION } from './version/version.js';

describe('buildRegistry', () => {
  it('exposes detour_build_info with the version, in every deployable that builds its registry here', async () => {
    expect(await buildRegistry(false).metrics()).toContain(`detour_build_info{version="${DETOUR_VERSION}",control_protocol="2"} 1`);
  });
});
