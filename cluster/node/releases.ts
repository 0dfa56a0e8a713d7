// Previous Detour releases the test node can run: the upgrade test builds one from its git tag
// into <cache>/releases/<sha> (test/upgrade/previous-release.ts) and records its version in
// <cache>/releases/versions/<version> (the commit). An image `…/detour:<version>` then runs that
// build instead of the working tree's dist/.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `${DETOUR_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/detour}/releases`, as cluster/controlplane/build.sh places its cache. */
export function releasesDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DETOUR_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'detour'), 'releases');
}

/** The built tree of a recorded release version, or undefined (then the working tree runs). */
export function findRelease(dir: string, version: string): string | undefined {
  if (!/^\d+\.\d+\.\d+$/.test(version)) return undefined;
  const file = join(dir, 'versions', version);
  if (!existsSync(file)) return undefined;
  const sha = readFileSync(file, 'utf8').trim();
  const root = join(dir, sha);
  return /^[0-9a-f]{40}$/.test(sha) && existsSync(join(root, '.built')) ? root : undefined;
}
