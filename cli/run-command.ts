// `detour run`: an Intercept with mode Outbound (the credential; routes nothing), then the local
// command with the cluster around it (run.ts); the Intercept is deleted when the command exits.
// Also the `-- COMMAND` part of `detour intercept`.

import type { Intercept } from '../core/api/intercept.js';
import { INJECT_LABEL } from '../core/constants.js';
import type { InterceptCommand, LocalNetworkFlags, RunCommand } from './args.js';
import { createIntercept, deleteIntercept, ensureDetourInstalled, fetchIntercept, fetchWorkload } from './cluster.js';
import { waitUntilRouted, type Io } from './commands.js';
import { CliError } from './errors.js';
import type { Kube } from './kube.js';
import { runLocalCommand } from './run.js';
import { startSession } from './session.js';
import { buildIntercept, buildInterceptName, describeMatch } from './spec.js';
import { buildTryIt } from './try-it.js';
import { pickContainer, type WorkloadJson } from './workload.js';
import { formatWorkload } from '../core/workload-ref.js';

function hostOf(io: Io): NonNullable<Io['host']> {
  if (!io.host) throw new CliError('this build of detour cannot run local commands');
  return io.host;
}

function localOptions(local: LocalNetworkFlags) {
  return {
    forwards: local.forwards, byName: local.byName,
    ...(local.socksPort !== undefined ? { socksPort: local.socksPort } : {}),
    ...(local.httpProxyPort !== undefined ? { httpProxyPort: local.httpProxyPort } : {}),
  };
}

export async function runRun(kube: Kube, cmd: RunCommand, io: Io): Promise<number> {
  const host = hostOf(io);
  const ns = kube.namespace;
  io.screen.info(`Using context ${kube.context}, namespace ${ns}`);
  await ensureDetourInstalled(kube);
  const workload = await fetchWorkload(kube, ns, cmd.workload);
  const container = pickContainer(workload, cmd.workload.kind, cmd.container);
  if (typeof container === 'string') throw new CliError(container);
  const owner = cmd.owner ?? io.user;
  const name = `${buildInterceptName(cmd.workload.name, [], owner).slice(0, 59).replace(/-+$/, '')}-run`;
  const wanted = buildIntercept({ name, namespace: ns, workload: cmd.workload, port: 'http', headers: [], mode: 'Outbound', owner, ...(cmd.ttl ? { ttl: cmd.ttl } : {}) });

  let created = false;
  const existing = await fetchIntercept(kube, ns, name);
  if (existing) {
    if (existing.spec.mode !== 'Outbound' || existing.spec.workload.name !== cmd.workload.name || existing.spec.workload.kind !== cmd.workload.kind) {
      throw new CliError(`Intercept ${name} already exists and is not an Outbound intercept of ${formatWorkload(cmd.workload)}: pass --owner to pick another name`);
    }
    io.screen.info(`Joining the existing Intercept ${name} (mode Outbound; it stays when the command exits)`);
  } else {
    io.screen.info(`Creating Intercept ${name}: ${formatWorkload(cmd.workload)}, mode Outbound (routes no requests; it authorizes your connections into the cluster)`);
    await createIntercept(kube, wanted);
    created = true;
  }
  if ((workload as WorkloadJson).spec?.template?.metadata?.labels?.[INJECT_LABEL] !== 'true') {
    io.screen.info(`Opting ${formatWorkload(cmd.workload)} in to the Detour sidecar: the operator adds the label ${INJECT_LABEL}=true to its pod template (its pods restart once)`);
  }
  try {
    const routed = await waitUntilRouted(kube, ns, name, io, cmd.timeoutMs);
    if (!routed) return 130;
    return await runLocalCommand({
      kube, intercept: routed, workload, container, command: cmd.command, ...localOptions(cmd.local), screen: io.screen, signal: io.signal, host,
    });
  } finally {
    if (created && !cmd.keep) {
      const gone = await deleteIntercept(kube, ns, name).catch((err: unknown) => { io.screen.warn(`Could not delete Intercept ${name}: ${err instanceof Error ? err.message : String(err)}`); return false; });
      if (gone) io.screen.info(`Deleted Intercept ${name}`);
    }
  }
}

/** `detour intercept ... -- COMMAND`: serves the Intercept while COMMAND runs with the cluster around it; resolves with its exit code. */
export async function serveWithCommand(kube: Kube, intercept: Intercept, cmd: InterceptCommand & { command: string[]; local: LocalNetworkFlags }, io: Io): Promise<number> {
  const host = hostOf(io);
  const workload = await fetchWorkload(kube, intercept.metadata.namespace, cmd.workload);
  const container = pickContainer(workload, cmd.workload.kind, undefined);
  if (typeof container === 'string') throw new CliError(container);
  const session = await startSession({ kube, intercept, target: cmd.target, ...(cmd.via ? { via: cmd.via } : {}), drainMs: cmd.drainMs, screen: io.screen, now: io.now });
  const stopCommand = new AbortController();
  const onAbort = (): void => stopCommand.abort();
  io.signal.addEventListener('abort', onAbort, { once: true });
  void session.ended.then((why) => { io.screen.warn(`${why}; stopping the command`); stopCommand.abort(); });
  try {
    io.screen.info(`Intercepting ${formatWorkload(cmd.workload)} port ${intercept.spec.port ?? 'http'}: ${describeMatch(intercept.spec.match)} → ${new URL(cmd.target).host} while ${cmd.command[0]} runs`);
    for (const line of buildTryIt(intercept)) io.screen.info(line);
    return await runLocalCommand({
      kube, intercept, workload, container, command: cmd.command, ...localOptions(cmd.local), screen: io.screen, signal: stopCommand.signal, host,
    });
  } finally {
    io.signal.removeEventListener('abort', onAbort);
    await session.stop();
  }
}
