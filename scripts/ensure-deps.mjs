#!/usr/bin/env node
// Installs what a fresh clone lacks before `npm test`, `npm run demo` and friends do their job:
// npm packages (when node_modules is missing or older than package-lock.json) and the Debian tools
// the test node uses (iproute2, iptables, conntrack; redis-server and redis-tools for the
// outbound suite's real Redis and redis-cli; nginx, the second HTTP/1.1 parser of the smuggling
// differential test). The control plane binaries are built on first
// use by cluster/controlplane/build.sh. Uses nothing outside Node's standard library.
import { existsSync, statSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lock = join(root, 'package-lock.json');
const marker = join(root, 'node_modules', '.package-lock.json');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`detour: '${cmd} ${args.join(' ')}' failed (exit ${r.status}).`);
    process.exit(r.status ?? 1);
  }
}

if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  console.error('Installing npm packages (npm ci)...');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

const tools = { ip: 'iproute2', iptables: 'iptables', conntrack: 'conntrack', 'redis-server': 'redis-server', 'redis-cli': 'redis-tools', nginx: 'nginx' };
const missing = Object.entries(tools).filter(([bin]) => {
  try { execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }); return false; } catch { return true; }
}).map(([, pkg]) => pkg);
if (missing.length > 0) {
  if (process.getuid?.() !== 0) {
    console.error(`detour: the test node needs ${missing.join(', ')}; install them (apt-get install ${missing.join(' ')}) or run as root.`);
    process.exit(1);
  }
  console.error(`Installing Debian packages: ${missing.join(', ')}...`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing]);
}
