// `npm run cluster:up` / `npm run cluster:down`: a local cluster (control plane + test node) that runs in the background
// for people (kubectl, the demo, exploring). State lives in <repo>/.detour/cluster (or $DETOUR_CLUSTER_DIR).
//   up      start it (building the binaries on first use); last line: export KUBECONFIG=<path>
//   down    stop it and remove its state
//   daemon  (internal) the background process that owns the control plane
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalCluster } from './start-local-cluster.js';
import { sleep } from '../core/sleep.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = process.env.DETOUR_CLUSTER_DIR ? resolve(process.env.DETOUR_CLUSTER_DIR) : join(repo, '.detour', 'cluster');
const pidFile = join(stateDir, 'daemon.pid');
const readyFile = join(stateDir, 'ready');
const logFile = join(stateDir, 'daemon.log');
const kubeconfig = join(stateDir, 'kubeconfig');


function runningPid(): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

async function up(): Promise<number> {
  if (runningPid() && existsSync(readyFile)) {
    console.log(`A local control plane is already running (${stateDir}).`);
    console.log(`export KUBECONFIG=${kubeconfig}`);
    return 0;
  }
  mkdirSync(stateDir, { recursive: true });
  rmSync(readyFile, { force: true });
  writeFileSync(logFile, '');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'daemon'], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: process.env,
  });
  closeSync(fd);
  child.unref();
  writeFileSync(pidFile, String(child.pid));

  // Follow the daemon's log so a cold build shows its progress here.
  let shown = 0;
  for (;;) {
    const size = statSync(logFile).size;
    if (size > shown) {
      const buf = readFileSync(logFile).subarray(shown, size);
      shown = size;
      process.stderr.write(buf);
    }
    if (existsSync(readyFile)) break;
    if (!runningPid()) {
      console.error(`The control plane did not start; see ${logFile}.`);
      return 1;
    }
    await sleep(250);
  }
  console.log(`Local control plane running in the background (state in ${stateDir}; stop it with npm run cluster:down).`);
  console.log(`export KUBECONFIG=${kubeconfig}`);
  return 0;
}

async function down(): Promise<number> {
  const pid = runningPid();
  if (pid) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 120 && runningPid(); i++) await sleep(250);
    if (runningPid()) process.kill(pid, 'SIGKILL');
    console.log('Stopped the local control plane.');
  } else {
    console.log('No local control plane was running.');
  }
  rmSync(stateDir, { recursive: true, force: true });
  return 0;
}

async function daemon(): Promise<void> {
  const say = (line: string) => console.error(line);
  const cluster = await startLocalCluster({ dir: stateDir, keepDir: true, assetsDir: process.env.KUBEBUILDER_ASSETS, log: say, repoRoot: repo });
  writeFileSync(readyFile, cluster.plane.server);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    say('Stopping the local cluster');
    await cluster.stop();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  setInterval(() => {}, 1 << 30);
}

const command = process.argv[2];
if (command === 'up') process.exitCode = await up();
else if (command === 'down') process.exitCode = await down();
else if (command === 'daemon') {
  await daemon().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
} else {
  console.error('usage: cluster-cli.ts up|down');
  process.exitCode = 2;
}
