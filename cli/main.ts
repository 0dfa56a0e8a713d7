#!/usr/bin/env node
// The detour CLI (also `kubectl detour`). The only file that reads process.argv and process.env;
// everything else takes what it needs as parameters.

import { runPolicyCheck } from './policy-check.js';
import { homedir, tmpdir, userInfo } from 'node:os';
import { parseCommandLine, type Command } from './args.js';
import { runConnect, runEnv, runIntercept, runLeave, runList, runStatus, type Io } from './commands.js';
import { CliError } from './errors.js';
import { HELP, MAIN_HELP } from './help.js';
import { buildKube, loadKubeConfig } from './kube.js';
import { runRun } from './run-command.js';
import { buildVersionReport, fetchClusterVersions } from './version.js';
import { DETOUR_VERSION } from '../core/version/version.js';

function localUser(): string {
  try { return userInfo().username; } catch { return process.env.USER ?? 'developer'; }
}

async function run(command: Command, io: Io): Promise<number> {
  switch (command.kind) {
    case 'help':
      io.print(command.topic ? HELP[command.topic] : MAIN_HELP);
      return 0;
    case 'version': {
      if (command.client) { io.print(buildVersionReport({ cli: DETOUR_VERSION })); return 0; }
      try {
        const kube = buildKube(loadKubeConfig({ flags: command.cluster, kubeconfigEnv: process.env.KUBECONFIG, homeDir: homedir() }), command.cluster.namespace);
        io.print(buildVersionReport({ cli: DETOUR_VERSION, cluster: await fetchClusterVersions(kube) }));
      } catch (err) {
        io.print(buildVersionReport({ cli: DETOUR_VERSION, clusterError: (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300) }));
      }
      return 0;
    }
    default: {
      const kc = loadKubeConfig({ flags: command.cluster, kubeconfigEnv: process.env.KUBECONFIG, homeDir: homedir() });
      const kube = buildKube(kc, command.cluster.namespace);
      switch (command.kind) {
        case 'intercept': return runIntercept(kube, command, io);
        case 'connect': return runConnect(kube, command, io);
        case 'list': return runList(kube, command, io);
        case 'status': return runStatus(kube, command, io);
        case 'leave': return runLeave(kube, command, io);
        case 'env': return runEnv(kube, command, io);
        case 'run': return runRun(kube, command, io);
        case 'policy-check': return runPolicyCheck(kube, command, io);
      }
    }
  }
}

async function main(): Promise<number> {
  const parsed = parseCommandLine(process.argv.slice(2));
  if (!parsed.ok) {
    process.stderr.write(`detour: ${parsed.error}\nRun "detour ${parsed.topic ? `${parsed.topic} ` : ''}--help" for usage.\n`);
    return 2;
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(`\nStopping (${sig}); press Ctrl-C again to quit at once\n`);
      controller.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // With a local command (run, intercept -- CMD) stdout is the command's: detour's own lines go to stderr.
  const c = parsed.command;
  const screenOut = c.kind === 'run' || (c.kind === 'intercept' && c.command) ? process.stderr : process.stdout;
  const io: Io = {
    screen: {
      info: (line) => screenOut.write(`${line}\n`),
      request: (line) => screenOut.write(`${line}\n`),
      warn: (line) => screenOut.write(`${line}\n`),
    },
    print: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    now: () => new Date(),
    signal: controller.signal,
    user: localUser(),
    host: { env: process.env, platform: process.platform, isRoot: process.getuid?.() === 0, tmpDir: tmpdir() },
  };
  try {
    return await run(parsed.command, io);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`detour: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`detour: unexpected error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    return 1;
  }
}

main().then((code) => {
  process.exitCode = code;
  // Tunnels and keep-alive agents may hold the loop open; the work is done.
  setTimeout(() => process.exit(code), 50).unref();
}, (err: unknown) => {
  process.stderr.write(`detour: ${String(err)}\n`);
  process.exit(1);
});
