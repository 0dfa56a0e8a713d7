import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureControlPlaneBinaries } from '../../cluster/controlplane/binaries.js';

const run = promisify(execFile);

describe('npm run cluster:up / cluster:down', () => {
  it('starts a control plane in the background that kubectl reaches with the printed KUBECONFIG, and stops it', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'detour-cluster-cli-'));
    const env: NodeJS.ProcessEnv = { ...process.env, DETOUR_CLUSTER_DIR: stateDir };
    delete env.KUBECONFIG;
    try {
      const up = await run('npm', ['run', '--silent', 'cluster:up'], { env, timeout: 600_000 });
      const lines = up.stdout.trim().split('\n');
      const last = lines[lines.length - 1]!;
      expect(last).toBe(`export KUBECONFIG=${join(stateDir, 'kubeconfig')}`);
      // A second `up` while it runs says so instead of starting another; a warm start reuses the cache.
      expect(up.stderr).toMatch(/cached in/);

      const { kubectl } = await ensureControlPlaneBinaries(process.env.KUBEBUILDER_ASSETS, () => {});
      const kubeconfig = last.slice('export KUBECONFIG='.length);
      const ns = await run(kubectl, ['get', 'namespaces', '-o', 'name'], { env: { ...env, KUBECONFIG: kubeconfig } });
      expect(ns.stdout).toContain('namespace/kube-system');

      const again = await run('npm', ['run', '--silent', 'cluster:up'], { env });
      expect(again.stdout).toMatch(/already running/);

      const down = await run('npm', ['run', '--silent', 'cluster:down'], { env });
      expect(down.stdout).toMatch(/Stopped/);
      await expect(run(kubectl, ['get', 'namespaces', '--request-timeout=3s'], { env: { ...env, KUBECONFIG: kubeconfig } })).rejects.toBeDefined();
    } finally {
      await run('npm', ['run', '--silent', 'cluster:down'], { env }).catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
