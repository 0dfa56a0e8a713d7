// `detour run WORKLOAD -- COMMAND [ARGS]` (and the command of `detour intercept ... -- COMMAND`):
// runs COMMAND on the laptop with the container's environment, its ConfigMap/Secret/downwardAPI/
// projected files under a private DETOUR_ROOT, and the cluster's network: SOCKS5 and HTTP proxies
// (ALL_PROXY, HTTP_PROXY…), `--forward`s, and on Linux the by-name path (hosts-namespace.ts). The
// exit code is the command's; DETOUR_ROOT is removed when it exits.

import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type net from 'node:net';
import type http from 'node:http';
import { dirname, join } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Intercept } from '../core/api/intercept.js';
import { OUTBOUND_PATH } from '../core/tunnel/outbound-protocol.js';
import { buildOutboundDialer, connectOutbound, type OutboundDialer } from '../core/tunnel/outbound.js';
import { TUNNEL_PATH } from '../core/tunnel/protocol.js';
import { formatWorkload } from '../core/workload-ref.js';
import { backoffDelay } from '../core/backoff.js';
import { sleep } from '../core/sleep.js';
import { fetchToken, listPods } from './cluster.js';
import { resolveEnv, planEnvReferences, type Fetched } from './env.js';
import { CliError, explainKubeError } from './errors.js';
import { buildForwardListener, type ForwardSpec } from './forward.js';
import { buildHostsFile, planHostsEntries, planNamespaceCommand, type ServiceJson } from './hosts-namespace.js';
import { buildHttpProxy } from './http-proxy.js';
import { resourcePath, statusOf, type Kube } from './kube.js';
import { buildLabelSelector, buildTunnelUrl, planReplicas, type PodJson } from './replicas.js';
import type { Screen } from './session.js';
import { buildSocksProxy, type LocalConnectionEvent } from './socks-proxy.js';
import { applyWithheldEnv, fetchWithholdRules, isMountWithheld } from './withhold.js';
import type { WorkloadKind } from '../core/workload-ref.js';
import { planVolumeFiles, planVolumeReferences, type FetchedObject, type VolumeJson, type VolumeMountJson } from './volume-files.js';
import type { ContainerJson, WorkloadJson } from './workload.js';

export interface LocalRunOptions {
  kube: Kube;
  intercept: Intercept;
  workload: WorkloadJson;
  container: ContainerJson;
  command: readonly string[];
  forwards: readonly ForwardSpec[];
  socksPort?: number;
  httpProxyPort?: number;
  /** Try the by-name path (default true). */
  byName?: boolean;
  screen: Screen;
  signal: AbortSignal;
  /** What the laptop gives: its environment (PATH, HOME…), platform, uid, temp folder. */
  host: { env: NodeJS.ProcessEnv; platform: string; isRoot: boolean; tmpDir: string };
}

type Closer = () => Promise<void>;

function listen(server: net.Server | http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

const closeServer = (s: net.Server | http.Server): Promise<void> => new Promise((r) => { s.close(() => r()); (s as http.Server).closeAllConnections?.(); });

/** The dialer: one outbound tunnel to a ready replica, re-picked on every reconnect. */
export function buildWorkloadDialer(kube: Kube, intercept: Intercept, workload: WorkloadJson, screen: Screen): OutboundDialer {
  const ns = intercept.metadata.namespace;
  const id = formatWorkload(intercept.spec.workload);
  const selector = buildLabelSelector(workload.spec?.selector);
  let said = '';
  return buildOutboundDialer({
    connect: async () => {
      const token = await fetchToken(kube, intercept);
      if (!token) throw new Error(`the token Secret of Intercept ${intercept.metadata.name} does not exist`);
      const plan = planReplicas(await listPods(kube, ns, selector), id);
      const replica = plan.ready[0];
      if (!replica) throw new Error(`no replica of ${id} has a ready sidecar${plan.notReady.length ? ` (${plan.notReady.map((n) => `${n.pod}: ${n.reason}`).join('; ')})` : ''}`);
      const url = buildTunnelUrl({ server: kube.server, namespace: ns, replica }).replace(new RegExp(`${TUNNEL_PATH}$`), OUTBOUND_PATH);
      const api = await kube.webSocketOptions();
      const t = await connectOutbound({ url, token, tokenHeader: 'x-detour-token', headers: api.headers, webSocketOptions: { ...api.options, handshakeTimeout: 15_000 } });
      if (said !== replica.pod) { screen.info(`Outbound connections go through ${replica.pod}`); said = replica.pod; }
      return t;
    },
    onStatus: (s) => {
      if (s.state === 'lost') screen.warn(`Lost the outbound tunnel (${s.code}${s.reason ? ` ${s.reason}` : ''}); the next connection reopens it`);
      if (s.state === 'failed') screen.warn(`Cannot open the outbound tunnel: ${s.error}`);
    },
  });
}

async function fetchObject(kube: Kube, ns: string, kind: 'configmaps' | 'secrets', name: string): Promise<FetchedObject> {
  try {
    return { object: await kube.request<{ data?: Record<string, string>; binaryData?: Record<string, string> }>('GET', resourcePath('', 'v1', kind, ns, name)) };
  } catch (err) {
    return { error: statusOf(err) === 404 ? 'not found' : explainKubeError(err, { verb: 'get', resource: kind, namespace: ns, name }) };
  }
}

/** Env vars and volume files of the container, read from the cluster. Never logs values. */
async function gatherContainer(kube: Kube, ns: string, workload: WorkloadJson, container: ContainerJson, screen: Screen, kind: WorkloadKind) {
  const podSpec = (workload.spec?.template?.spec ?? {}) as { volumes?: VolumeJson[] };
  const withhold = await fetchWithholdRules(kube, ns, { kind, name: workload.metadata.name, ...(workload.metadata.labels ? { labels: workload.metadata.labels } : {}) });
  const mounts = ((container as { volumeMounts?: VolumeMountJson[] }).volumeMounts ?? []).filter((m) => {
    if (!isMountWithheld(withhold, m.name)) return true;
    screen.warn(`Not written under ${m.mountPath}: volume ${m.name} is withheld by InterceptPolicy`);
    return false;
  });
  const envRefs = planEnvReferences(container as Parameters<typeof planEnvReferences>[0]);
  const volRefs = planVolumeReferences(podSpec.volumes ?? [], mounts);
  const cmNames = [...new Set([...envRefs.configMaps, ...volRefs.configMaps])];
  const secretNames = [...new Set([...envRefs.secrets, ...volRefs.secrets])];
  const configMaps = new Map(await Promise.all(cmNames.map(async (n) => [n, await fetchObject(kube, ns, 'configmaps', n)] as const)));
  const secrets = new Map(await Promise.all(secretNames.map(async (n) => [n, await fetchObject(kube, ns, 'secrets', n)] as const)));
  const asEnv = (m: Map<string, FetchedObject>, secret: boolean): Map<string, Fetched> => new Map([...m].map(([k, v]) => [k, 'error' in v ? v : {
    data: Object.fromEntries(Object.entries(v.object.data ?? {}).map(([key, val]) => [key, secret ? Buffer.from(val, 'base64').toString('utf8') : val])),
  }]));
  const pods = await listPods(kube, ns, buildLabelSelector(workload.spec?.selector)).catch(() => [] as PodJson[]);
  const pod = pods.find((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp) as never;
  const { env, withheld } = applyWithheldEnv(resolveEnv(container as Parameters<typeof resolveEnv>[0], { configMaps: asEnv(configMaps, false), secrets: asEnv(secrets, true), ...(pod ? { pod } : {}) }), withhold);
  if (withheld.length) screen.warn(`Withheld by InterceptPolicy: ${withheld.join(', ')}`);
  for (const u of env.unresolved) screen.warn(`Environment variable ${u.name} not set: ${u.reason}`);
  const files = planVolumeFiles(podSpec.volumes ?? [], mounts, { configMaps, secrets, ...(pod ? { pod } : {}) });
  for (const s of files.skipped) screen.warn(`Not written under ${s.mountPath}: ${s.reason}`);
  return { env, files };
}

/**
 * Opens the outbound tunnel before the command starts. A sidecar that has not received the routing
 * table with this token yet answers 403 for a moment (as for inbound tunnels); retried for up to
 * 30 s, then the command starts anyway and its connections get the reason.
 */
async function warmUp(dialer: OutboundDialer, signal: AbortSignal): Promise<void> {
  for (let attempt = 0; attempt < 12 && !signal.aborted; attempt++) {
    try { await dialer.connect(); return; } catch { /* told through onStatus */ }
    await sleep(backoffDelay(attempt, { initialMs: 250, maxMs: 4000 }));
  }
}

function probeUserNamespaces(): boolean {
  const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'true'], { stdio: 'ignore', timeout: 5000 });
  return r.status === 0;
}

/** Runs the command with the cluster around it; resolves with its exit code. */
export async function runLocalCommand(o: LocalRunOptions): Promise<number> {
  const { kube, screen } = o;
  const ns = o.intercept.metadata.namespace;
  const closers: Closer[] = [];
  const cleanup = async (): Promise<void> => { for (const c of closers.reverse()) await c().catch(() => undefined); };
  try {
    const onConnection = (e: LocalConnectionEvent): void => {
      if (e.error) screen.warn(`${e.via} → ${e.destination}: ${e.error}`);
    };
    const dialer = buildWorkloadDialer(kube, o.intercept, o.workload, screen);
    closers.push(() => dialer.close());
    await warmUp(dialer, o.signal);
    const socks = buildSocksProxy({ dialer, onConnection });
    const socksPort = await listen(socks, o.socksPort ?? 0, '127.0.0.1');
    closers.push(() => closeServer(socks));
    const httpProxy = buildHttpProxy({ dialer, onConnection });
    const httpPort = await listen(httpProxy, o.httpProxyPort ?? 0, '127.0.0.1');
    closers.push(() => closeServer(httpProxy));
    screen.info(`SOCKS5 proxy on 127.0.0.1:${socksPort}, HTTP proxy on 127.0.0.1:${httpPort} (names resolve in the cluster)`);
    for (const f of o.forwards) {
      const server = buildForwardListener({ dialer, target: f.target, onConnection });
      const port = await listen(server, f.localPort, '127.0.0.1').catch((err: NodeJS.ErrnoException) => {
        throw new CliError(`--forward ${f.localPort}:${f.target.host}:${f.target.port}: cannot listen on 127.0.0.1:${f.localPort} (${err.code ?? err.message})`);
      });
      closers.push(() => closeServer(server));
      screen.info(`Forwarding 127.0.0.1:${port} → ${f.target.host}:${f.target.port} in the cluster`);
    }

    const { env, files } = await gatherContainer(kube, ns, o.workload, o.container, screen, o.intercept.spec.workload.kind);
    const dir = await mkdtemp(join(o.host.tmpDir, 'detour-run-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    await chmod(dir, 0o700);
    const root = join(dir, 'root');
    await mkdir(root, { mode: 0o700 });
    for (const f of files.files) {
      const path = join(root, f.path);
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      await writeFile(path, f.content, { mode: f.mode });
      await chmod(path, f.mode);
    }
    screen.info(`Wrote ${files.files.length} file${files.files.length === 1 ? '' : 's'} of the container's volumes under DETOUR_ROOT=${root}`);

    let file = o.command[0]!;
    let args = o.command.slice(1);
    if (o.byName !== false) {
      const byName = await startByName(o, dialer, dir, onConnection).catch((err: unknown) => ({ ok: false as const, reason: err instanceof Error ? err.message : String(err) }));
      if (byName.ok) {
        closers.push(byName.close);
        file = byName.file;
        args = byName.args;
        screen.info(`Cluster Services reachable by name (${byName.how}): ${byName.summary}`);
      } else {
        screen.warn(`No by-name access to cluster Services: ${byName.reason}; the command gets the proxies (ALL_PROXY, HTTP_PROXY) and --forward only`);
      }
    }

    const childEnv: NodeJS.ProcessEnv = { ...o.host.env };
    for (const v of env.vars) if (v.name !== 'PATH') childEnv[v.name] = v.value;
    Object.assign(childEnv, {
      DETOUR_ROOT: root,
      ALL_PROXY: `socks5h://127.0.0.1:${socksPort}`, all_proxy: `socks5h://127.0.0.1:${socksPort}`,
      HTTP_PROXY: `http://127.0.0.1:${httpPort}`, http_proxy: `http://127.0.0.1:${httpPort}`,
      HTTPS_PROXY: `http://127.0.0.1:${httpPort}`, https_proxy: `http://127.0.0.1:${httpPort}`,
      NO_PROXY: 'localhost,127.0.0.1,::1', no_proxy: 'localhost,127.0.0.1,::1',
    });
    return await spawnAndWait(file, args, childEnv, o.signal, o.command[0]!);
  } finally {
    await cleanup();
  }
}

async function startByName(o: LocalRunOptions, dialer: OutboundDialer, dir: string, onConnection: (e: LocalConnectionEvent) => void):
  Promise<{ ok: true; file: string; args: string[]; how: string; summary: string; close: Closer } | { ok: false; reason: string }> {
  const ns = o.intercept.metadata.namespace;
  const userNamespaces = !o.host.isRoot && o.host.platform === 'linux' ? probeUserNamespaces() : false;
  const hostsFile = join(dir, 'hosts');
  const plan = planNamespaceCommand({ platform: o.host.platform, isRoot: o.host.isRoot, userNamespaces, hostsFile, command: o.command });
  if (!plan.ok) return plan;
  let services: ServiceJson[];
  try {
    services = (await o.kube.request<{ items: ServiceJson[] }>('GET', resourcePath('', 'v1', 'services', ns))).items;
  } catch (err) {
    return { ok: false, reason: `cannot list Services in ${ns}: ${explainKubeError(err, { verb: 'list', resource: 'services', namespace: ns })}` };
  }
  const entries = planHostsEntries(services, ns);
  const servers: net.Server[] = [];
  const skipped: string[] = [];
  for (const e of entries) {
    for (const port of e.ports) {
      const server = buildForwardListener({ dialer, target: { host: e.service, port }, via: 'hosts', onConnection });
      try {
        await listen(server, port, e.address);
        servers.push(server);
      } catch (err) {
        skipped.push(`${e.names[0]}:${port} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
  }
  if (skipped.length) o.screen.warn(`Cannot listen for ${skipped.join(', ')}: use the proxies for those (ports below 1024 need root)`);
  const original = await readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1 localhost\n');
  await writeFile(hostsFile, buildHostsFile(original, entries), { mode: 0o644 });
  const summary = entries.length ? entries.slice(0, 6).map((e) => `${e.names[0]}:${e.ports.join(',')}`).join(' ') + (entries.length > 6 ? ` … (${entries.length})` : '') : 'none in this namespace';
  return { ok: true, file: plan.file, args: plan.args, how: plan.how, summary, close: async () => { await Promise.all(servers.map(closeServer)); } };
}

function spawnAndWait(file: string, args: string[], env: NodeJS.ProcessEnv, signal: AbortSignal, shown: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: 'inherit' });
    const onAbort = (): void => { child.kill('SIGTERM'); };
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      reject(new CliError(err.code === 'ENOENT' ? `command not found: ${file === 'unshare' && shown !== 'unshare' ? 'unshare (util-linux)' : shown}` : `cannot start ${shown}: ${err.message}`, 127));
    });
    child.once('exit', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      resolve(code ?? 128 + ((sig && osConstants.signals[sig]) || 1));
    });
  });
}
