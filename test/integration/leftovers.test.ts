import { describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cleanupLeftoverControlPlanes } from '../../cluster/controlplane/start-control-plane.js';
import { listNetns } from '../../cluster/node/network.js';
import { cleanupLeftoverClusters, startLocalCluster } from '../../cluster/start-local-cluster.js';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..', '..');

/** What a local cluster K leaves on the machine: namespaces, links, root routes and processes. */
async function traces(index: number, dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const ns of await listNetns()) if (ns === `dtnode${index}` || ns.startsWith(`dtp${index}-`)) found.push(`netns ${ns}`);
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
  if (links.includes(`dtnode${index}@`) || links.includes(`dtnode${index}:`)) found.push(`link dtnode${index}`);
  const routes = (await run('ip', ['route', 'show'])).stdout;
  for (const cidr of [`10.244.${index}.0/24`, `10.96.${index}.0/24`]) if (routes.includes(cidr)) found.push(`route ${cidr}`);
  const ps = (await run('ps', ['-eo', 'args'])).stdout;
  if (ps.split('\n').some((l) => l.includes(dir))) found.push(`processes using ${dir}`);
  if (existsSync(dir)) found.push(`folder ${dir}`);
  return found;
}

describe('a local cluster leaves nothing behind', () => {
  it('after a clean stop: no namespaces, veths, routes, iptables rules or processes', async () => {
    const cluster = await startLocalCluster({ repoRoot, assetsDir: process.env.KUBEBUILDER_ASSETS });
    const { index } = cluster.net;
    const dir = cluster.plane.dir;
    expect(await traces(index, dir)).toEqual(expect.arrayContaining([`netns dtnode${index}`, `route 10.244.${index}.0/24`]));
    await cluster.stop();
    expect(await traces(index, dir)).toEqual([]);
  });

  it('after a crash (SIGKILL), the next start cleans up what the dead run left', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'fixtures', 'crash-cluster-main.ts'), repoRoot], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ready = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('READY '));
        if (line) resolve(line);
      });
      child.on('exit', (code) => reject(new Error(`the crashing cluster exited early (${code})`)));
    });
    const [, indexText, dir] = ready.split(' ');
    const index = Number(indexText);
    expect((await listNetns()).some((n) => n.startsWith(`dtp${index}-`))).toBe(true);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await traces(index, dir!)).length).toBeGreaterThan(0);

    const cleaned = await cleanupLeftoverClusters();
    cleanupLeftoverControlPlanes();
    expect(cleaned).toContain(index);
    expect(await traces(index, dir!)).toEqual([]);
  });
});
