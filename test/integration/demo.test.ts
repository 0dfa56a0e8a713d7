import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { listNetns } from '../../cluster/node/network.js';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..', '..');

describe('npm run demo', () => {
  it('shows the baggage member routing to the laptop through middle (whose answer includes data from a cluster Service) and everything else to the cluster, then cleans up', async () => {
    // The demo script itself (npm run demo = build + this), on a local cluster of its own.
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(repoRoot, 'demo', 'run.ts')], { cwd: repoRoot, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
    const rows = stdout.split('\n').filter((l) => /curl .*http:\/\/frontend\.demo\//.test(l) && !l.includes('$ detour'));
    expect(rows).toHaveLength(5);
    expect(rows.filter((r) => r.includes('YOUR LAPTOP'))).toHaveLength(2);
    for (const row of rows) {
      // The laptop's answer includes what the laptop's backend fetched from the in-cluster inventory Service by name.
      if (/baggage: .*\bdetour-user=alice\b/.test(row)) expect(row).toMatch(/backend on YOUR LAPTOP, with stock \{"widgets":42\} it fetched from inventory in the cluster \(pod inventory-/);
      else expect(row).toMatch(/backend in the cluster \(pod backend-/);
    }
    expect(stdout).toMatch(/the CLI left and deleted its Intercept/);
    expect(stdout).toMatch(/local cluster stopped/);
    const cluster = /Creating the node network \(cluster (\d+):/.exec(stdout)?.[1];
    expect(cluster).toBeDefined();
    expect((await listNetns()).filter((n) => n === `dtnode${cluster}` || n.startsWith(`dtp${cluster}-`))).toEqual([]);
  });
});
