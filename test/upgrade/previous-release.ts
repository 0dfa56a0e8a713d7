// Builds the previous release (test/upgrade/previous-release.json) once and caches it outside the
// repository, in <cache>/releases/<sha> (cluster/node/releases.ts): a temporary git worktree at the
// tag (or the recorded commit), this repository's node_modules linked in, `tsc` as `npm run build`
// runs it, then dist/, the chart, the CRDs and package.json copied to the cache. The test node
// runs an image `…/detour:<version>` from there.
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { releasesDir } from '../../cluster/node/releases.js';

const run = promisify(execFile);
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface PreviousRelease {
  tag: string;
  commit: string;
  version: string;
}

export interface BuiltRelease extends PreviousRelease {
  /** The built tree: dist/, charts/detour, crds/, package.json, node_modules (its own copy, hard-linked). */
  root: string;
  chart: string;
}

export function readPreviousRelease(repoRoot = REPO_ROOT): PreviousRelease {
  return JSON.parse(readFileSync(join(repoRoot, 'test', 'upgrade', 'previous-release.json'), 'utf8')) as PreviousRelease;
}

async function git(repoRoot: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', repoRoot, ...args], { maxBuffer: 16 << 20, timeout: 300_000 });
  return stdout.trim();
}

const hasCommit = (repoRoot: string, sha: string) => git(repoRoot, ['cat-file', '-e', `${sha}^{commit}`]).then(() => true, () => false);

/** The release's commit: the tag's, else the recorded one, fetched when the clone lacks it. */
export async function resolveReleaseCommit(repoRoot: string, release: PreviousRelease): Promise<string> {
  const tagged = await git(repoRoot, ['rev-parse', '--verify', '--quiet', `${release.tag}^{commit}`]).catch(() => '');
  if (tagged) return tagged;
  if (await hasCommit(repoRoot, release.commit)) return release.commit;
  const shallow = (await git(repoRoot, ['rev-parse', '--is-shallow-repository']).catch(() => 'false')) === 'true';
  const attempts: string[][] = [
    ...(shallow ? [['fetch', '--unshallow', '--tags']] : []),
    ['fetch', 'origin', 'tag', release.tag],
    ['fetch', 'origin', release.commit],
  ];
  const failures: string[] = [];
  for (const args of attempts) {
    try {
      await git(repoRoot, args);
    } catch (err) {
      failures.push(`git ${args.join(' ')}: ${((err as { stderr?: string }).stderr ?? String(err)).trim().split('\n')[0]}`);
    }
    if (await hasCommit(repoRoot, release.commit)) return release.commit;
  }
  throw new Error(`the upgrade test needs the previous release ${release.tag} (commit ${release.commit}, test/upgrade/previous-release.json) and this clone has neither the tag nor the commit; fetching failed (${failures.join('; ') || 'nothing to try'}). Fetch it yourself (git fetch --tags, or git fetch origin ${release.commit}) and run again`);
}

function linkNodeModules(root: string, repoRoot: string): void {
  const link = join(root, 'node_modules');
  try { if (lstatSync(link)) unlinkSync(link); } catch { /* absent */ }
  symlinkSync(join(repoRoot, 'node_modules'), link, 'dir');
}

/**
 * The release's own node_modules in the cache: a hard-linked copy of this repository's (a plain copy
 * where links cannot be made). Not a symlink: the pods that run the release see only what the test
 * node stages for them, and an emptyDir at /tmp hides a checkout under /tmp (a CI clone), and with
 * it a symlink's target. A symlink left by an older cache entry is replaced.
 */
function provideNodeModules(root: string, repoRoot: string): void {
  const target = join(root, 'node_modules');
  let stat: ReturnType<typeof lstatSync> | undefined;
  try { stat = lstatSync(target); } catch { stat = undefined; }
  if (stat?.isDirectory()) return;
  if (stat) unlinkSync(target);
  const partial = `${target}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  const linked = spawnSync('cp', ['-al', join(repoRoot, 'node_modules'), partial], { stdio: 'ignore' });
  if (linked.status !== 0) {
    rmSync(partial, { recursive: true, force: true });
    cpSync(join(repoRoot, 'node_modules'), partial, { recursive: true, verbatimSymlinks: true });
  }
  try {
    renameSync(partial, target);
  } catch {
    rmSync(partial, { recursive: true, force: true }); // another run provided it first
  }
}

/** The built previous release, from the cache or built now (a few minutes, once per commit). */
export async function ensurePreviousRelease(log: (line: string) => void = () => undefined, repoRoot = REPO_ROOT): Promise<BuiltRelease> {
  const release = readPreviousRelease(repoRoot);
  const sha = await resolveReleaseCommit(repoRoot, release);
  const dir = releasesDir();
  const root = join(dir, sha);
  if (!existsSync(join(root, '.built'))) {
    mkdirSync(dir, { recursive: true });
    const worktree = mkdtempSync(join(tmpdir(), 'detour-release-'));
    const partial = `${root}.partial-${process.pid}`;
    log(`Building the previous release ${release.tag} (${sha.slice(0, 12)}) in a temporary worktree ${worktree}`);
    try {
      await git(repoRoot, ['worktree', 'add', '--detach', '--force', worktree, sha]);
      linkNodeModules(worktree, repoRoot);
      await run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: worktree, timeout: 600_000, maxBuffer: 16 << 20 })
        .catch((err: { stdout?: string; message: string }) => { throw new Error(`building ${release.tag} failed: ${(err.stdout ?? err.message).trim().slice(0, 2000)}`); });
      rmSync(partial, { recursive: true, force: true });
      mkdirSync(partial, { recursive: true });
      for (const part of ['dist', 'charts', 'crds', 'package.json']) cpSync(join(worktree, part), join(partial, part), { recursive: true });
      writeFileSync(join(partial, '.built'), `${release.tag} ${sha}\n`);
      try {
        renameSync(partial, root);
      } catch {
        rmSync(partial, { recursive: true, force: true }); // another run built it first
      }
    } finally {
      await git(repoRoot, ['worktree', 'remove', '--force', worktree]).catch(() => rmSync(worktree, { recursive: true, force: true }));
      await git(repoRoot, ['worktree', 'prune']).catch(() => undefined);
    }
  }
  // The release resolves its packages from a copy of this repository's node_modules (its
  // dependencies are a subset of today's).
  provideNodeModules(root, repoRoot);
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  if (version !== release.version) throw new Error(`${release.tag} has package.json version ${version}, test/upgrade/previous-release.json says ${release.version}`);
  mkdirSync(join(dir, 'versions'), { recursive: true });
  writeFileSync(join(dir, 'versions', version), `${sha}\n`);
  return { ...release, commit: sha, root, chart: join(root, 'charts', 'detour') };
}
