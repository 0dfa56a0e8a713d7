// Makes sure the Debian tools the benchmark compares against are there: nginx (the reference
// reverse proxy) and wrk (the throughput load generator). Installs them with apt-get when missing
// and running as root; otherwise says what is missing and the bench skips what needs it.

import { execFileSync, spawnSync } from 'node:child_process';

export interface Tools {
  nginx?: string;
  wrk?: string;
  kubectl?: string;
  /** Human-readable notes about what is missing and what is skipped because of it. */
  missing: string[];
}

function which(bin: string): string | undefined {
  for (const candidate of [bin, `/usr/sbin/${bin}`, `/usr/bin/${bin}`]) {
    try {
      return execFileSync('sh', ['-c', `command -v ${candidate}`], { encoding: 'utf8' }).trim() || undefined;
    } catch { /* next */ }
  }
  return undefined;
}

export function ensureTools(log: (line: string) => void): Tools {
  const wanted: Record<string, string> = { nginx: 'nginx', wrk: 'wrk' };
  const absent = Object.keys(wanted).filter((b) => which(b) === undefined);
  const missing: string[] = [];
  if (absent.length > 0) {
    if (process.getuid?.() === 0) {
      const pkgs = absent.map((b) => wanted[b]!);
      log(`Installing Debian packages: ${pkgs.join(', ')} (apt-get)`);
      // policy-rc.d (if present) keeps the nginx service from starting; the bench runs its own.
      const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] });
      const install = update.status === 0
        ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
        : update;
      if (install.status !== 0) missing.push(`apt-get could not install ${pkgs.join(', ')} (exit ${install.status})`);
    } else {
      missing.push(`${absent.join(', ')} not installed and not root: run 'apt-get install ${absent.map((b) => wanted[b]).join(' ')}'`);
    }
  }
  const tools: Tools = { nginx: which('nginx'), wrk: which('wrk'), kubectl: which('kubectl'), missing };
  if (!tools.nginx) missing.push('nginx missing: the nginx columns are skipped');
  if (!tools.wrk) missing.push('wrk missing: throughput uses the Node closed-loop client instead');
  return tools;
}
