// The commands: each gathers from the cluster, decides with the pure modules, acts, and prints.

import type { Intercept } from '../core/api/intercept.js';
import { INJECT_LABEL } from '../core/constants.js';
import type { ConnectCommand, EnvCommand, InterceptCommand, LeaveCommand, ListCommand, StatusCommand } from './args.js';
import {
  createIntercept, deleteIntercept, ensureDetourInstalled, fetchIntercept, fetchWorkload, listIntercepts, listPods, requireIntercept,
} from './cluster.js';
import { planEnvReferences, resolveEnv, formatEnv, type Fetched } from './env.js';
import { CliError, explainKubeError } from './errors.js';
import { buildListTable, formatObjects, formatStatus, type EventJson } from './format.js';
import { resourcePath, statusOf, type Kube } from './kube.js';
import { resolveOwner } from './identity.js';
import { describeProgress } from './progress.js';
import { buildLabelSelector } from './replicas.js';
import { serveWithCommand } from './run-command.js';
import { startSession, type Screen } from './session.js';
import { sleep } from '../core/sleep.js';
import { buildIntercept, buildInterceptName, describeMatch, planAdoption } from './spec.js';
import { buildTryIt } from './try-it.js';
import { checkPort, pickContainer } from './workload.js';
import { formatWorkload } from '../core/workload-ref.js';
import { applyWithheldEnv, fetchWithholdRules } from './withhold.js';

export interface Io {
  screen: Screen;
  /** Plain output (tables, JSON, env files). */
  print(text: string): void;
  now(): Date;
  /** Aborted on Ctrl-C / SIGTERM. */
  signal: AbortSignal;
  /** The local OS user: the owner when neither the API server nor the kubeconfig names one. */
  user: string;
  /** For commands run locally (`detour run`, `intercept -- CMD`): the laptop's environment and facts. */
  host?: { env: NodeJS.ProcessEnv; platform: string; isRoot: boolean; tmpDir: string };
}

/** Polls the Intercept until it routes (phase Active), printing each new step. */
export async function waitUntilRouted(kube: Kube, ns: string, name: string, io: Io, timeoutMs: number): Promise<Intercept | undefined> {
  const deadline = io.now().getTime() + timeoutMs;
  let last = '';
  while (!io.signal.aborted) {
    const i = await fetchIntercept(kube, ns, name);
    if (!i) throw new CliError(`Intercept ${name} was deleted while waiting for it`);
    const p = describeProgress(i);
    if (p.message !== last) { io.screen.info(p.message); last = p.message; }
    if (p.state === 'failed') throw new CliError(`Intercept ${name} cannot route: ${p.message}`);
    if (p.state === 'ready') return i;
    if (io.now().getTime() > deadline) throw new CliError(`gave up after ${Math.round(timeoutMs / 1000)}s waiting for Intercept ${name}: ${p.message} (see "detour status ${name} -n ${ns}")`);
    await sleep(500, io.signal);
  }
  return undefined;
}

/** Serves the Intercept until Ctrl-C or until it ends by itself; returns why it ended on its own. */
async function serve(kube: Kube, intercept: Intercept, target: string, via: string | undefined, drainMs: number, io: Io): Promise<string | undefined> {
  const session = await startSession({ kube, intercept, target, ...(via ? { via } : {}), drainMs, screen: io.screen, now: io.now });
  const m = intercept.spec.match;
  io.screen.info(`Intercepting ${formatWorkload(intercept.spec.workload)} port ${intercept.spec.port ?? 'http'}: ${describeMatch(m)} → ${new URL(target).host}${intercept.spec.mode === 'Mirror' ? ' (mirror copies)' : ''}. Press Ctrl-C to stop.`);
  for (const line of buildTryIt(intercept)) io.screen.info(line);
  const aborted = new Promise<undefined>((resolve) => {
    if (io.signal.aborted) resolve(undefined);
    io.signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
  const why = await Promise.race([session.ended, aborted]);
  await session.stop();
  return why;
}

export async function runIntercept(kube: Kube, cmd: InterceptCommand, io: Io): Promise<number> {
  const ns = kube.namespace;
  io.screen.info(`Using context ${kube.context}, namespace ${ns}`);
  await ensureDetourInstalled(kube);
  const workload = await fetchWorkload(kube, ns, cmd.workload);
  const portProblem = checkPort(workload, cmd.workload.kind, cmd.port);
  if (portProblem) throw new CliError(portProblem);

  const owner = cmd.owner ?? await resolveOwner(kube, io.user);
  const name = cmd.name ?? buildInterceptName(cmd.workload.name, [...cmd.headers, ...cmd.baggage, ...cmd.cookies, ...cmd.query], owner);
  const wanted = buildIntercept({
    name, namespace: ns, workload: cmd.workload, port: cmd.port, headers: cmd.headers, baggage: cmd.baggage, cookies: cmd.cookies, query: cmd.query, mode: cmd.mode, owner,
    ...(cmd.pathPrefix ? { pathPrefix: cmd.pathPrefix } : {}), ...(cmd.ttl ? { ttl: cmd.ttl } : {}),
  });

  let created = false;
  const existing = await fetchIntercept(kube, ns, name);
  if (existing) {
    const why = planAdoption(existing, wanted.spec);
    if (why) throw new CliError(`Intercept ${name} already exists and is different: ${why}. Join it with "detour connect ${name}", or pick another --name`);
    io.screen.info(`Joining the existing Intercept ${name} (it stays when you stop)`);
  } else {
    io.screen.info(`Creating Intercept ${name}: ${formatWorkload(cmd.workload)} port ${cmd.port}, ${describeMatch(wanted.spec.match)}${cmd.ttl ? `, ttl ${cmd.ttl}` : ''}`);
    await createIntercept(kube, wanted);
    created = true;
  }
  if (workload.spec?.template?.metadata?.labels?.[INJECT_LABEL] !== 'true') {
    io.screen.info(`Opting ${formatWorkload(cmd.workload)} in to the Detour sidecar: the operator adds the label ${INJECT_LABEL}=true to its pod template (its pods restart once)`);
  }

  let exitCode = 0;
  try {
    const routed = await waitUntilRouted(kube, ns, name, io, cmd.timeoutMs);
    if (routed && cmd.command && cmd.local) {
      exitCode = await serveWithCommand(kube, routed, { ...cmd, command: cmd.command, local: cmd.local }, io);
    } else if (routed) {
      const why = await serve(kube, routed, cmd.target, cmd.via, cmd.drainMs, io);
      if (why) { io.screen.warn(why); exitCode = 1; }
    }
  } finally {
    if (created && !cmd.keep) {
      const gone = await deleteIntercept(kube, ns, name).catch((err: unknown) => { io.screen.warn(`Could not delete Intercept ${name}: ${err instanceof Error ? err.message : String(err)}`); return false; });
      if (gone) io.screen.info(`Deleted Intercept ${name}: its requests reach the cluster again`);
    } else if (created) {
      io.screen.info(`Kept Intercept ${name}: rejoin with "detour connect ${name} -n ${ns} --to ${new URL(cmd.target).host}", remove with "detour leave ${name} -n ${ns}"`);
    } else {
      io.screen.info(`Left Intercept ${name} in place (not created by this command)`);
    }
  }
  return exitCode;
}

export async function runConnect(kube: Kube, cmd: ConnectCommand, io: Io): Promise<number> {
  const ns = kube.namespace;
  io.screen.info(`Using context ${kube.context}, namespace ${ns}`);
  await ensureDetourInstalled(kube);
  await requireIntercept(kube, ns, cmd.name);
  const routed = await waitUntilRouted(kube, ns, cmd.name, io, 180_000);
  if (!routed) return 0;
  const why = await serve(kube, routed, cmd.target, cmd.via, cmd.drainMs, io);
  if (why) { io.screen.warn(why); return 1; }
  io.screen.info(`Disconnected from Intercept ${cmd.name}; it stays (remove it with "detour leave ${cmd.name} -n ${ns}")`);
  return 0;
}

export async function runList(kube: Kube, cmd: ListCommand, io: Io): Promise<number> {
  await ensureDetourInstalled(kube);
  const items = await listIntercepts(kube, cmd.allNamespaces ? undefined : kube.namespace);
  if (cmd.output === 'json' || cmd.output === 'yaml') { io.print(formatObjects(items, cmd.output)); return 0; }
  if (items.length === 0) { io.screen.info(cmd.allNamespaces ? 'No Intercepts in any namespace.' : `No Intercepts in namespace ${kube.namespace}.`); return 0; }
  io.print(buildListTable(items, io.now(), cmd.allNamespaces, cmd.output === 'wide'));
  return 0;
}

export async function runStatus(kube: Kube, cmd: StatusCommand, io: Io): Promise<number> {
  const ns = kube.namespace;
  await ensureDetourInstalled(kube);
  const i = await requireIntercept(kube, ns, cmd.name);
  let events: EventJson[] = [];
  let eventsNote: string | undefined;
  try {
    const list = await kube.request<{ items: EventJson[] }>('GET', resourcePath('', 'v1', 'events', ns), { query: { fieldSelector: `involvedObject.uid=${i.metadata.uid ?? ''}` } });
    events = list.items;
  } catch (err) {
    eventsNote = explainKubeError(err, { verb: 'list', resource: 'events', namespace: ns });
  }
  io.print(formatStatus(i, events, io.now()));
  if (eventsNote) io.screen.warn(`(events not shown: ${eventsNote})`);
  return 0;
}

export async function runLeave(kube: Kube, cmd: LeaveCommand, io: Io): Promise<number> {
  const ns = kube.namespace;
  await ensureDetourInstalled(kube);
  if (!(await deleteIntercept(kube, ns, cmd.name))) throw new CliError(`no Intercept "${cmd.name}" in namespace ${ns} (see "detour list -n ${ns}")`);
  // The operator removes its finalizer once the routes are gone from every sidecar.
  for (let n = 0; n < 40 && !io.signal.aborted; n++) {
    if (!(await fetchIntercept(kube, ns, cmd.name))) break;
    await sleep(250, io.signal);
  }
  io.screen.info(`Deleted Intercept ${cmd.name}: its requests reach the cluster again`);
  return 0;
}

export async function runEnv(kube: Kube, cmd: EnvCommand, io: Io): Promise<number> {
  const ns = kube.namespace;
  const workload = await fetchWorkload(kube, ns, cmd.workload);
  const container = pickContainer(workload, cmd.workload.kind, cmd.container);
  if (typeof container === 'string') throw new CliError(container);
  const refs = planEnvReferences(container as Parameters<typeof planEnvReferences>[0]);
  const fetch = async (kind: 'configmaps' | 'secrets', name: string): Promise<Fetched> => {
    try {
      const obj = await kube.request<{ data?: Record<string, string>; binaryData?: Record<string, string> }>('GET', resourcePath('', 'v1', kind, ns, name));
      const data = obj.data ?? {};
      return { data: kind === 'secrets' ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])) : data };
    } catch (err) {
      return { error: statusOf(err) === 404 ? 'not found' : explainKubeError(err, { verb: 'get', resource: kind, namespace: ns, name }) };
    }
  };
  const configMaps = new Map(await Promise.all(refs.configMaps.map(async (n) => [n, await fetch('configmaps', n)] as const)));
  const secrets = new Map(await Promise.all(refs.secrets.map(async (n) => [n, await fetch('secrets', n)] as const)));
  const pods = await listPods(kube, ns, buildLabelSelector(workload.spec?.selector)).catch(() => []);
  const pod = pods.find((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
  const resolved = resolveEnv(container as Parameters<typeof resolveEnv>[0], { configMaps, secrets, ...(pod ? { pod: pod as never } : {}) });
  const { env, withheld } = applyWithheldEnv(resolved, await fetchWithholdRules(kube, ns, { ...cmd.workload, ...(workload.metadata?.labels ? { labels: workload.metadata.labels } : {}) }));
  if (withheld.length) io.screen.warn(`Withheld by InterceptPolicy: ${withheld.join(', ')}`);
  io.print(formatEnv(env, cmd.format));
  if (env.unresolved.length && cmd.format === 'json') io.screen.warn(`${env.unresolved.length} variable(s) could not be resolved (see "unresolved")`);
  return 0;
}

