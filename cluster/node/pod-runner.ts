// Runs one pod on the test node: its network namespace, volumes (projected service-account tokens,
// ConfigMaps, Secrets, downward API, emptyDir), init containers in order, native sidecars and
// containers as local processes, probes, restarts, and the status it reports.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CoreV1Api, V1Container, V1Pod, V1PodStatus, V1Volume } from '@kubernetes/client-node';
import { resolveImage, type ImageMap } from './images.js';
import { createPodNetwork, deletePodNetwork, type NodeNetwork, type PodNetwork } from './network.js';
import { buildContainerEnv, envReferences, type EnvSources } from './pod-env.js';
import { buildPodStatus, type ContainerRuntimeState } from './pod-status.js';
import { runProbe, startProber } from './probes.js';
import { backoffDelay } from '../../core/backoff.js';
import { sleep } from '../../core/sleep.js';

export interface PodRunnerDeps {
  core: CoreV1Api;
  net: NodeNetwork;
  imageMap: ImageMap;
  /** Folder for this pod's volumes and container logs. */
  dir: string;
  serviceEnv: Record<string, string>;
  dnsServer: string;
  log: (line: string) => void;
  /** Called whenever the status this runner would report changes. */
  onStatus: (status: V1PodStatus) => void;
  /**
   * The folder the image map's programs live in (the repository). Like an image's /app, it stays
   * visible whatever the pod mounts: an emptyDir at /tmp must not hide a checkout under /tmp.
   */
  appRoot?: string;
  /** More such folders: previous releases built for the upgrade test (cluster/node/releases.ts). */
  extraAppRoots?: string[];
}

interface RunningContainer {
  spec: V1Container;
  state: ContainerRuntimeState;
  child?: ChildProcess;
  stopProbes: Array<() => void>;
  restartTimer?: NodeJS.Timeout;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export class PodRunner {
  private readonly deps: PodRunnerDeps;
  private pod: V1Pod;
  private network?: PodNetwork;
  private readonly startTime = new Date();
  private readonly init: RunningContainer[];
  private readonly main: RunningContainer[];
  private stopped = false;
  private tokenTimers: NodeJS.Timeout[] = [];
  private volumeRefresh?: NodeJS.Timeout;

  constructor(pod: V1Pod, private readonly ip: string | undefined, deps: PodRunnerDeps) {
    this.pod = pod;
    this.deps = deps;
    const waiting = (c: V1Container, sidecar: boolean): RunningContainer => ({
      spec: c,
      stopProbes: [],
      state: { name: c.name, image: c.image ?? '', phase: { kind: 'waiting', reason: 'PodInitializing' }, ready: false, restartCount: 0, sidecar },
    });
    this.init = (pod.spec?.initContainers ?? []).map((c) => waiting(c, c.restartPolicy === 'Always'));
    this.main = (pod.spec?.containers ?? []).map((c) => waiting(c, false));
  }

  get podIp(): string | undefined {
    return this.pod.spec?.hostNetwork ? this.deps.net.nodeAddress : this.ip;
  }

  private get name(): string {
    return `${this.pod.metadata?.namespace}/${this.pod.metadata?.name}`;
  }

  status(): V1PodStatus {
    return buildPodStatus({
      pod: this.pod,
      podIp: this.network || this.pod.spec?.hostNetwork ? this.podIp : undefined,
      hostIp: this.deps.net.nodeAddress,
      startTime: this.startTime,
      init: this.init.map((c) => c.state),
      main: this.main.map((c) => c.state),
      now: new Date(),
    });
  }

  /** The latest pod object (its status conditions keep their transition times). */
  update(pod: V1Pod): void {
    this.pod = pod;
  }

  private changed(): void {
    if (!this.stopped) this.deps.onStatus(this.status());
  }

  async start(): Promise<void> {
    const ns = this.pod.metadata?.namespace ?? 'default';
    if (!this.pod.spec?.hostNetwork) {
      this.network = await createPodNetwork(this.deps.net, this.pod.metadata!.uid!, this.ip!);
      const etc = join('/etc/netns', this.network.namespace);
      mkdirSync(etc, { recursive: true });
      writeFileSync(join(etc, 'resolv.conf'), `nameserver ${this.deps.dnsServer}\nsearch ${ns}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`);
      writeFileSync(join(etc, 'hostname'), `${this.pod.metadata?.name}\n`);
    }
    mkdirSync(join(this.deps.dir, 'logs'), { recursive: true, mode: 0o755 });
    await this.prepareVolumes();
    this.changed();
    for (const c of this.init) {
      if (this.stopped) return;
      if (c.state.sidecar) {
        await this.startContainer(c);
        await this.until(() => c.state.phase.kind === 'running' && (c.spec.startupProbe === undefined || c.state.ready));
      } else {
        await this.runToCompletion(c);
        if (c.state.phase.kind !== 'terminated' || c.state.phase.exitCode !== 0) return;
      }
    }
    for (const c of this.main) await this.startContainer(c);
  }

  private async until(cond: () => boolean): Promise<void> {
    while (!cond() && !this.stopped) await sleep(100);
  }

  private async runToCompletion(c: RunningContainer): Promise<void> {
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    for (;;) {
      await this.startContainer(c, true);
      await this.until(() => c.state.phase.kind === 'terminated');
      if (this.stopped || (c.state.phase.kind === 'terminated' && c.state.phase.exitCode === 0) || policy === 'Never') return;
      c.state.restartCount++;
      await sleep(backoffDelay(c.state.restartCount, { initialMs: 1000, maxMs: 10_000 }));
    }
  }

  private volumeDir(name: string): string {
    return join(this.deps.dir, 'volumes', name);
  }

  private async prepareVolumes(): Promise<void> {
    await this.waitForVolumeSources();
    for (const v of this.pod.spec?.volumes ?? []) {
      const dir = this.volumeDir(v.name);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      await this.fillVolume(v, dir);
    }
    // The kubelet keeps Secret and ConfigMap volumes in sync (about a minute); a few seconds here.
    if (this.pod.spec?.volumes?.some((v) => v.secret?.secretName || v.configMap?.name)) {
      this.volumeRefresh = setInterval(() => void this.refreshVolumes().catch(() => undefined), 3000).unref();
    }
  }

  /** Like the kubelet, containers do not start while a Secret or ConfigMap volume that is not optional is missing. */
  private async waitForVolumeSources(): Promise<void> {
    const ns = this.pod.metadata!.namespace!;
    for (const v of this.pod.spec?.volumes ?? []) {
      const secret = v.secret?.secretName && !v.secret.optional ? v.secret.secretName : undefined;
      const configMap = v.configMap?.name && !v.configMap.optional ? v.configMap.name : undefined;
      if (!secret && !configMap) continue;
      let logged = false;
      while (!this.stopped) {
        const found = secret
          ? await this.deps.core.readNamespacedSecret({ name: secret, namespace: ns }).then(() => true, () => false)
          : await this.deps.core.readNamespacedConfigMap({ name: configMap!, namespace: ns }).then(() => true, () => false);
        if (found) break;
        if (!logged) this.deps.log(`Waiting for ${secret ? `secret ${secret}` : `configmap ${configMap}`} to mount volume ${v.name} of pod ${this.name}`);
        logged = true;
        await sleep(1000);
      }
    }
  }

  /** Rewrites changed files of Secret and ConfigMap volumes, each atomically (rename), as the kubelet's symlink swap does. */
  private async refreshVolumes(): Promise<void> {
    const ns = this.pod.metadata!.namespace!;
    for (const v of this.pod.spec?.volumes ?? []) {
      if (this.stopped) return;
      let files: Array<[string, Buffer]> = [];
      if (v.secret?.secretName) {
        const s = await this.deps.core.readNamespacedSecret({ name: v.secret.secretName, namespace: ns }).catch(() => undefined);
        files = Object.entries(s?.data ?? {}).map(([k, val]) => [v.secret!.items?.find((i) => i.key === k)?.path ?? k, Buffer.from(val, 'base64')]);
      } else if (v.configMap?.name) {
        const cm = await this.deps.core.readNamespacedConfigMap({ name: v.configMap.name, namespace: ns }).catch(() => undefined);
        files = Object.entries(cm?.data ?? {}).map(([k, val]) => [v.configMap!.items?.find((i) => i.key === k)?.path ?? k, Buffer.from(val)]);
      }
      for (const [path, content] of files) {
        const file = join(this.volumeDir(v.name), path);
        let current: Buffer | undefined;
        try { current = readFileSync(file); } catch { current = undefined; }
        if (current?.equals(content) || this.stopped) continue;
        mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
        writeFileSync(`${file}.tmp`, content, { mode: 0o644 });
        renameSync(`${file}.tmp`, file);
      }
    }
  }

  private writeFile(dir: string, path: string, content: string | Buffer): void {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, content, { mode: 0o644 });
  }

  private async fillVolume(v: V1Volume, dir: string): Promise<void> {
    const ns = this.pod.metadata!.namespace!;
    const core = this.deps.core;
    if (v.configMap?.name) {
      const cm = await core.readNamespacedConfigMap({ name: v.configMap.name, namespace: ns }).catch(() => undefined);
      for (const [k, val] of Object.entries(cm?.data ?? {})) this.writeFile(dir, v.configMap.items?.find((i) => i.key === k)?.path ?? k, val);
    }
    if (v.secret?.secretName) {
      const s = await core.readNamespacedSecret({ name: v.secret.secretName, namespace: ns }).catch(() => undefined);
      for (const [k, val] of Object.entries(s?.data ?? {})) this.writeFile(dir, v.secret.items?.find((i) => i.key === k)?.path ?? k, Buffer.from(val, 'base64'));
    }
    for (const src of v.projected?.sources ?? []) {
      if (src.serviceAccountToken) {
        const sat = src.serviceAccountToken;
        const write = async () => {
          const expirationSeconds = Math.max(600, sat.expirationSeconds ?? 3607);
          const tr = await core.createNamespacedServiceAccountToken({
            name: this.pod.spec?.serviceAccountName ?? 'default',
            namespace: ns,
            body: { spec: { audiences: sat.audience ? [sat.audience] : [], expirationSeconds, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: this.pod.metadata!.name!, uid: this.pod.metadata!.uid! } } },
          });
          this.writeFile(dir, sat.path, tr.status?.token ?? '');
          // Refresh at 80% of the lifetime, as the kubelet does.
          if (!this.stopped) this.tokenTimers.push(setTimeout(() => void write().catch((e: Error) => this.deps.log(`Failed to refresh a token for pod ${this.name}: ${e.message}`)), expirationSeconds * 800).unref());
        };
        await write();
      }
      if (src.configMap?.name) {
        const cm = await core.readNamespacedConfigMap({ name: src.configMap.name, namespace: ns }).catch(() => undefined);
        for (const [k, val] of Object.entries(cm?.data ?? {})) {
          const item = src.configMap.items?.find((i) => i.key === k);
          if (!src.configMap.items || item) this.writeFile(dir, item?.path ?? k, val);
        }
      }
      if (src.secret?.name) {
        const s = await core.readNamespacedSecret({ name: src.secret.name, namespace: ns }).catch(() => undefined);
        for (const [k, val] of Object.entries(s?.data ?? {})) {
          const item = src.secret.items?.find((i) => i.key === k);
          if (!src.secret.items || item) this.writeFile(dir, item?.path ?? k, Buffer.from(val, 'base64'));
        }
      }
      for (const item of src.downwardAPI?.items ?? []) {
        const path = item.fieldRef?.fieldPath;
        const value = path === 'metadata.namespace' ? ns : path === 'metadata.name' ? this.pod.metadata!.name! : path === 'metadata.uid' ? this.pod.metadata!.uid! : '';
        this.writeFile(dir, item.path, value);
      }
    }
    for (const item of v.downwardAPI?.items ?? []) {
      const path = item.fieldRef?.fieldPath;
      const value = path === 'metadata.namespace' ? ns : path === 'metadata.name' ? this.pod.metadata!.name! : '';
      this.writeFile(dir, item.path, value);
    }
  }

  private async envSources(c: V1Container): Promise<EnvSources> {
    const ns = this.pod.metadata!.namespace!;
    const refs = envReferences(c);
    const sources: EnvSources = { configMaps: {}, secrets: {} };
    for (const name of refs.configMaps) {
      sources.configMaps[name] = (await this.deps.core.readNamespacedConfigMap({ name, namespace: ns }).catch(() => undefined))?.data ?? undefined;
    }
    for (const name of refs.secrets) {
      const s = await this.deps.core.readNamespacedSecret({ name, namespace: ns }).catch(() => undefined);
      sources.secrets[name] = s?.data ? Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])) : undefined;
    }
    return sources;
  }

  private runAsUser(c: V1Container): { uid?: number; gid?: number } {
    const uid = c.securityContext?.runAsUser ?? this.pod.spec?.securityContext?.runAsUser;
    const gid = c.securityContext?.runAsGroup ?? this.pod.spec?.securityContext?.runAsGroup ?? uid;
    return { uid: uid ?? undefined, gid: gid ?? undefined };
  }

  private async startContainer(c: RunningContainer, once = false): Promise<void> {
    if (this.stopped) return;
    const resolved = resolveImage(this.deps.imageMap, c.spec);
    if (typeof resolved === 'string') {
      c.state.phase = { kind: 'waiting', reason: 'ErrImagePull', message: resolved };
      this.deps.log(`Failed to start container ${c.spec.name} of pod ${this.name}: ${resolved}`);
      this.changed();
      return;
    }
    let cmd = resolved;
    const envResult = buildContainerEnv(this.pod, c.spec, { podIp: this.podIp ?? '', hostIp: this.deps.net.nodeAddress, serviceEnv: this.deps.serviceEnv }, await this.envSources(c.spec));
    if ('error' in envResult) {
      c.state.phase = { kind: 'waiting', reason: 'CreateContainerConfigError', message: envResult.error };
      this.changed();
      if (!once) c.restartTimer = setTimeout(() => void this.startContainer(c), 2000);
      return;
    }
    // The sources live under this node's folder (/run/detour/node-K): a mount over one of its
    // ancestors (e.g. an emptyDir at /run) would hide the sources mounted after it, so such mounts go last.
    const all = (c.spec.volumeMounts ?? []).map((m) => ({ source: join(this.volumeDir(m.name), m.subPath ?? ''), target: m.mountPath }));
    const hides = (target: string) => `${this.deps.dir}/`.startsWith(`${target.replace(/\/+$/, '')}/`);
    const mounts = [...all.filter((m) => !hides(m.target)), ...all.filter((m) => hides(m.target))];
    const prelude = mounts.map((m) => `mkdir -p ${quote(m.target)} && mount --bind ${quote(m.source)} ${quote(m.target)}`);
    // The programs' folder is bound to a path of the pod's own before any volume can hide it.
    // (A root-only folder such as ~/.cache stays readable to a container of another uid too: root binds it.)
    [this.deps.appRoot, ...(this.deps.extraAppRoots ?? [])].forEach((root, n) => {
      const appRoot = root?.replace(/\/+$/, '');
      if (!appRoot || ![cmd.command, ...cmd.args].some((a) => a.startsWith(`${appRoot}/`))) return;
      const stage = join(this.deps.dir, n === 0 ? 'app' : `app-${n}`);
      mkdirSync(stage, { recursive: true, mode: 0o755 });
      prelude.unshift(`mount --bind ${quote(appRoot)} ${quote(stage)}`);
      const rebase = (a: string) => (a.startsWith(`${appRoot}/`) ? stage + a.slice(appRoot.length) : a);
      cmd = { command: rebase(cmd.command), args: cmd.args.map(rebase) };
    });
    const { uid, gid } = this.runAsUser(c.spec);
    const drop = uid !== undefined && uid !== 0 ? ['setpriv', `--reuid=${uid}`, `--regid=${gid ?? uid}`, '--clear-groups', '--'] : [];
    const inner = ['sh', '-c', [...prelude, 'exec "$@"'].join(' && '), 'sh', ...drop, cmd.command, ...cmd.args];
    const argv = this.network ? ['ip', 'netns', 'exec', this.network.namespace, ...inner] : ['unshare', '--mount', '--propagation', 'private', ...inner];
    const logPath = join(this.deps.dir, 'logs', `${c.spec.name}.log`);
    const fd = openSync(logPath, 'a');
    const child = spawn(argv[0]!, argv.slice(1), { env: envResult.env, stdio: ['ignore', fd, fd], detached: true, cwd: '/' });
    closeSync(fd);
    c.child = child;
    const startedAt = new Date();
    c.state.phase = { kind: 'running', startedAt };
    c.state.ready = c.spec.readinessProbe === undefined && c.spec.startupProbe === undefined;
    this.deps.log(`Started container ${c.spec.name} of pod ${this.name} (pid ${child.pid})`);
    this.startProbes(c);
    this.changed();
    child.on('exit', (code, signal) => {
      for (const stop of c.stopProbes) stop();
      c.stopProbes = [];
      c.child = undefined;
      const exitCode = code ?? (signal ? 128 + 15 : 1);
      const reason = exitCode === 0 ? 'Completed' : 'Error';
      c.state.ready = false;
      c.state.phase = { kind: 'terminated', exitCode, reason, startedAt, finishedAt: new Date(), message: exitCode === 0 ? undefined : `see ${logPath}` };
      if (this.stopped) return;
      this.deps.log(`Container ${c.spec.name} of pod ${this.name} exited with ${exitCode}`);
      const policy = this.pod.spec?.restartPolicy ?? 'Always';
      const restart = !once && (c.state.sidecar || policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0));
      if (restart) {
        c.state.lastTerminated = { exitCode, reason, finishedAt: new Date() };
        c.state.restartCount++;
        c.state.phase = { kind: 'waiting', reason: 'CrashLoopBackOff', message: `back-off restarting container ${c.spec.name}` };
        c.restartTimer = setTimeout(() => void this.startContainer(c), Math.min(10_000, 500 * 2 ** Math.min(c.state.restartCount, 5)));
      }
      this.changed();
    });
  }

  private startProbes(c: RunningContainer): void {
    const host = this.podIp ?? '127.0.0.1';
    const exec = (command: string[], timeoutMs: number) =>
      new Promise<boolean>((resolve) => {
        const argv = this.network ? ['ip', 'netns', 'exec', this.network.namespace, ...command] : command;
        const p = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: timeoutMs });
        p.on('exit', (code) => resolve(code === 0));
        p.on('error', () => resolve(false));
      });
    const readiness = c.spec.readinessProbe ?? c.spec.startupProbe;
    if (readiness) {
      c.stopProbes.push(startProber(readiness, () => runProbe(readiness, c.spec, host, exec), (ok) => { c.state.ready = ok; this.changed(); }, false));
    }
    const liveness = c.spec.livenessProbe;
    if (liveness) {
      c.stopProbes.push(startProber(liveness, () => runProbe(liveness, c.spec, host, exec), (ok) => {
        if (!ok && c.child?.pid) {
          this.deps.log(`Liveness probe of container ${c.spec.name} of pod ${this.name} failed; restarting it`);
          killGroup(c.child.pid, 'SIGKILL');
        }
      }, true));
    }
  }

  /** Stops every container (SIGTERM, then SIGKILL after the grace period) and removes the pod's namespace and files. */
  async stop(gracePeriodSeconds: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.tokenTimers) clearTimeout(t);
    if (this.volumeRefresh) clearInterval(this.volumeRefresh);
    const all = [...this.main, ...[...this.init].reverse()];
    for (const c of all) {
      if (c.restartTimer) clearTimeout(c.restartTimer);
      for (const stop of c.stopProbes) stop();
    }
    const exits = all.filter((c) => c.child?.pid).map((c) => {
      const child = c.child!;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      killGroup(child.pid!, 'SIGTERM');
      return done;
    });
    const grace = Math.max(0, Math.min(gracePeriodSeconds, 30)) * 1000;
    const timer = setTimeout(() => { for (const c of all) if (c.child?.pid) killGroup(c.child.pid, 'SIGKILL'); }, grace);
    await Promise.all(exits);
    clearTimeout(timer);
    if (this.network) {
      await deletePodNetwork(this.network);
      rmSync(join('/etc/netns', this.network.namespace), { recursive: true, force: true });
    }
    rmSync(this.deps.dir, { recursive: true, force: true });
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try { process.kill(pid, signal); } catch { /* gone */ }
  }
}
