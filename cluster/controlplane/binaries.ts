import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONTROL_PLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'kubectl', 'helm'] as const;
export type ControlPlaneBinary = (typeof CONTROL_PLANE_BINARIES)[number];
export type BinaryPaths = Record<ControlPlaneBinary, string>;

const here = dirname(fileURLToPath(import.meta.url));
/** The build script lives beside this file in the source tree (and is not copied to dist/). */
export const BUILD_SCRIPT = join(here.replace(/\/dist\/cluster\/controlplane$/, '/cluster/controlplane'), 'build.sh');

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Which binaries a folder of existing ones (the envtest `KUBEBUILDER_ASSETS` convention) provides.
 * Pure apart from the file-system probe passed in.
 */
export function planBinaryPaths(
  assetsDir: string | undefined,
  builtDir: string | undefined,
  exists: (path: string) => boolean = isExecutable,
): { paths: Partial<BinaryPaths>; missing: ControlPlaneBinary[] } {
  const paths: Partial<BinaryPaths> = {};
  const missing: ControlPlaneBinary[] = [];
  for (const name of CONTROL_PLANE_BINARIES) {
    const fromAssets = assetsDir ? join(assetsDir, name) : undefined;
    const fromBuild = builtDir ? join(builtDir, name) : undefined;
    if (fromAssets && exists(fromAssets)) paths[name] = fromAssets;
    else if (fromBuild && exists(fromBuild)) paths[name] = fromBuild;
    else missing.push(name);
  }
  return { paths, missing };
}

/** Runs build.sh (a no-op when the cache is warm), streaming its progress to stderr; resolves to the cache's bin dir. */
export function buildControlPlaneBinaries(onProgress: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    let pending = '';
    child.stderr.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onProgress(line);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (pending) onProgress(pending);
      const dir = out.trim().split('\n').pop();
      if (code === 0 && dir) resolve(dir);
      else reject(new Error(`building the control plane binaries failed (exit ${code}); see the output above`));
    });
  });
}

/**
 * Finds every binary: `KUBEBUILDER_ASSETS` first (envtest convention), then the build cache, building
 * what is missing. `assetsDir` is passed in by the caller that read the environment.
 */
export async function ensureControlPlaneBinaries(assetsDir: string | undefined, onProgress?: (line: string) => void): Promise<BinaryPaths> {
  const first = planBinaryPaths(assetsDir, undefined);
  if (first.missing.length === 0) return first.paths as BinaryPaths;
  const builtDir = await buildControlPlaneBinaries(onProgress);
  const second = planBinaryPaths(assetsDir, builtDir);
  if (second.missing.length > 0) throw new Error(`control plane binaries missing after the build: ${second.missing.join(', ')}`);
  return second.paths as BinaryPaths;
}
