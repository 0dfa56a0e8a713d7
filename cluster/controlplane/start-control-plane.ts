import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, closeSync, existsSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { buildCertificateAuthority, buildLeafCertificate, type KeyPairPem } from '../../core/tls/certificates.js';
import { ensureControlPlaneBinaries, type BinaryPaths } from './binaries.js';
import { sleep } from '../../core/sleep.js';

export interface ControlPlaneOptions {
  /** State folder (etcd data, certificates, logs, kubeconfig). Default: a new temp folder, removed on stop. */
  dir?: string;
  /** Keep `dir` after stop (default: keep only a caller-given dir). */
  keepDir?: boolean;
  /** Binaries to run; default: `KUBEBUILDER_ASSETS` (assetsDir) then the build cache, building what is missing. */
  binaries?: BinaryPaths;
  /** A folder of existing binaries (the envtest KUBEBUILDER_ASSETS convention). */
  assetsDir?: string;
  /** Address the API server binds to and advertises (default 127.0.0.1). A test node passes its host address. */
  bindAddress?: string;
  advertiseAddress?: string;
  serviceClusterIpRange?: string;
  /** Extra API server tokens (`token,user,uid,"group1,group2"` lines) for other components such as a test node. */
  extraTokens?: Array<{ token: string; user: string; groups?: string[] }>;
  extraApiServerArgs?: string[];
  /**
   * `none` (default): the `kubernetes` Service has no endpoints (nothing in the cluster can route to
   * a loopback address). `lease`: the API server publishes its advertise address, for clusters
   * whose pods reach it (the test node).
   */
  endpointReconciler?: 'none' | 'lease';
  /** Progress lines (cold build, start-up). */
  log?: (line: string) => void;
}

export interface ControlPlane {
  /** Absolute path of an admin kubeconfig (token in group system:masters). */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** https://127.0.0.1:PORT */
  server: string;
  ca: KeyPairPem;
  adminToken: string;
  dir: string;
  binaries: BinaryPaths;
  serviceAccountKeyPath: string;
  serviceClusterIpRange: string;
  stop(): Promise<void>;
}

interface Component {
  name: string;
  child: ChildProcess;
  logPath: string;
}

const PID_FILE = 'pids.json';
const DIR_PREFIX = 'detour-cp-';

export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the processes of control planes whose owning process died without stopping them (a killed
 * jest run, a crashed daemon) and removes their temp folders.
 */
export function cleanupLeftoverControlPlanes(root = tmpdir()): number {
  let cleaned = 0;
  for (const entry of readdirSync(root)) {
    if (!entry.startsWith(DIR_PREFIX)) continue;
    const dir = join(root, entry);
    const pidFile = join(dir, PID_FILE);
    if (!existsSync(pidFile)) continue;
    try {
      const { owner, pids } = JSON.parse(readFileSync(pidFile, 'utf8')) as { owner: number; pids: number[] };
      if (isAlive(owner)) continue;
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      cleaned++;
    } catch {
      // A half-written pid file of a control plane that is starting right now: leave it.
    }
  }
  return cleaned;
}

function tail(path: string, lines = 25): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function httpsStatus(url: string, opts: { ca?: string; token?: string }): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'GET',
        ca: opts.ca,
        rejectUnauthorized: opts.ca !== undefined,
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
        timeout: 2000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}


function kubeconfigYaml(server: string, caPem: string, user: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'detour-local', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'detour-local', context: { cluster: 'detour-local', user } }],
    'current-context': 'detour-local',
  });
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler as local processes on
 * loopback with free ports and RBAC on, and waits until the API server is ready and the
 * controller-manager has created the `default` ServiceAccount.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = options.log ?? (() => {});
  cleanupLeftoverControlPlanes();
  const binaries = options.binaries ?? (await ensureControlPlaneBinaries(options.assetsDir, log));
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), DIR_PREFIX));
  const keepDir = options.keepDir ?? !ownDir;
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'pki'), { recursive: true });
  rmSync(join(dir, 'etcd'), { recursive: true, force: true });

  const bind = options.bindAddress ?? '127.0.0.1';
  const advertise = options.advertiseAddress ?? bind;
  const serviceRange = options.serviceClusterIpRange ?? '10.96.0.0/16';
  const firstServiceIp = serviceRange.replace(/\.0\/\d+$/, '.1');

  // Certificates: one CA for the API server's serving cert and the signing of cluster certificates.
  const now = new Date();
  const ca = buildCertificateAuthority({ commonName: 'detour-local-ca', now });
  const serving = buildLeafCertificate({
    ca,
    commonName: 'kube-apiserver',
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ipAddresses: [...new Set(['127.0.0.1', advertise, bind === '0.0.0.0' ? '127.0.0.1' : bind, firstServiceIp])],
    now,
    validityHours: 24 * 30,
  });
  const pki = (name: string) => join(dir, 'pki', name);
  writeFileSync(pki('ca.crt'), ca.certPem);
  writeFileSync(pki('ca.key'), ca.keyPem, { mode: 0o600 });
  writeFileSync(pki('apiserver.crt'), serving.certPem);
  writeFileSync(pki('apiserver.key'), serving.keyPem, { mode: 0o600 });
  const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(pki('sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(pki('sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));

  const token = () => randomBytes(24).toString('hex');
  const adminToken = token();
  const kcmToken = token();
  const schedulerToken = token();
  const tokens = [
    { token: adminToken, user: 'detour-admin', groups: ['system:masters'] },
    { token: kcmToken, user: 'system:kube-controller-manager', groups: [] },
    { token: schedulerToken, user: 'system:kube-scheduler', groups: [] },
    ...(options.extraTokens ?? []),
  ];
  writeFileSync(
    pki('tokens.csv'),
    tokens.map((t, i) => `${t.token},${t.user},uid-${i}${t.groups && t.groups.length ? `,"${t.groups.join(',')}"` : ''}`).join('\n') + '\n',
    { mode: 0o600 },
  );

  const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = await Promise.all([getFreePort(), getFreePort(), getFreePort(bind === '0.0.0.0' ? '127.0.0.1' : bind), getFreePort(), getFreePort()]);
  const server = `https://${bind === '0.0.0.0' ? '127.0.0.1' : bind}:${apiPort}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigYaml(server, ca.certPem, 'detour-admin', adminToken), { mode: 0o600 });
  writeFileSync(join(dir, 'kcm.kubeconfig'), kubeconfigYaml(server, ca.certPem, 'kcm', kcmToken), { mode: 0o600 });
  writeFileSync(join(dir, 'scheduler.kubeconfig'), kubeconfigYaml(server, ca.certPem, 'scheduler', schedulerToken), { mode: 0o600 });

  const components: Component[] = [];
  const writePids = () =>
    writeFileSync(join(dir, PID_FILE), JSON.stringify({ owner: process.pid, pids: components.map((c) => c.child.pid).filter(Boolean) }));
  const onExit = () => {
    for (const c of components) c.child.kill('SIGKILL');
  };
  process.on('exit', onExit);

  const launch = (name: string, bin: string, args: string[]): Component => {
    const logPath = join(dir, 'logs', `${name}.log`);
    const fd = openSync(logPath, 'a');
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const component = { name, child, logPath };
    components.push(component);
    writePids();
    return component;
  };

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const c of [...components].reverse()) {
      if (c.child.exitCode !== null || c.child.signalCode !== null) continue;
      const exited = new Promise((r) => c.child.once('exit', r));
      c.child.kill('SIGTERM');
      const killer = setTimeout(() => c.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    process.off('exit', onExit);
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
    else rmSync(join(dir, PID_FILE), { force: true });
  };

  const failIfExited = (c: Component) => {
    if (c.child.exitCode !== null || c.child.signalCode !== null) {
      throw new Error(`${c.name} exited during start-up (${c.child.exitCode ?? c.child.signalCode}); last lines of ${c.logPath}:\n${tail(c.logPath)}`);
    }
  };
  const waitFor = async (what: string, c: Component, check: () => Promise<boolean>, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      failIfExited(c);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last lines of ${c.logPath}:\n${tail(c.logPath)}`);
      await sleep(150);
    }
  };

  try {
    log('Starting etcd');
    const etcd = launch('etcd', binaries.etcd, [
      '--name=detour',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=detour=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);

    log('Starting kube-apiserver');
    const apiserver = launch('kube-apiserver', binaries['kube-apiserver'], [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--bind-address=${bind}`,
      `--advertise-address=${advertise}`,
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${pki('apiserver.crt')}`,
      `--tls-private-key-file=${pki('apiserver.key')}`,
      `--client-ca-file=${pki('ca.crt')}`,
      `--token-auth-file=${pki('tokens.csv')}`,
      '--authorization-mode=Node,RBAC',
      `--service-cluster-ip-range=${serviceRange}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki('sa.pub')}`,
      `--service-account-signing-key-file=${pki('sa.key')}`,
      `--endpoint-reconciler-type=${options.endpointReconciler ?? 'none'}`,
      '--enable-aggregator-routing=true',
      '--allow-privileged=true',
      `--cert-dir=${join(dir, 'pki')}`,
      '--profiling=false',
      '--v=0',
      ...(options.extraApiServerArgs ?? []),
    ]);
    await waitFor('etcd', etcd, async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`).then((r) => r.ok).catch(() => false)));
    await waitFor('kube-apiserver /readyz', apiserver, async () => (await httpsStatus(`${server}/readyz`, { ca: ca.certPem, token: adminToken })) === 200);

    log('Starting kube-controller-manager and kube-scheduler');
    // What the controller-manager and the scheduler share: their kubeconfig for everything, a
    // loopback serving port with a self-signed certificate, no leader election.
    const componentArgs = (kubeconfig: string, port: number, certDir: string) => [
      ...['kubeconfig', 'authentication-kubeconfig', 'authorization-kubeconfig'].map((flag) => `--${flag}=${join(dir, kubeconfig)}`),
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${join(dir, certDir)}`,
      '--leader-elect=false',
      '--v=0',
    ];
    const kcm = launch('kube-controller-manager', binaries['kube-controller-manager'], [
      ...componentArgs('kcm.kubeconfig', kcmPort, 'kcm'),
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki('sa.key')}`,
      `--root-ca-file=${pki('ca.crt')}`,
      `--cluster-signing-cert-file=${pki('ca.crt')}`,
      `--cluster-signing-key-file=${pki('ca.key')}`,
      `--service-cluster-ip-range=${serviceRange}`,
    ]);
    const scheduler = launch('kube-scheduler', binaries['kube-scheduler'], componentArgs('scheduler.kubeconfig', schedPort, 'scheduler'));
    await waitFor('kube-controller-manager /healthz', kcm, async () => (await httpsStatus(`https://127.0.0.1:${kcmPort}/healthz`, {})) === 200);
    await waitFor('kube-scheduler /healthz', scheduler, async () => (await httpsStatus(`https://127.0.0.1:${schedPort}/healthz`, {})) === 200);

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    // The ServiceAccount admission plugin refuses pods until the controller-manager made `default`.
    await waitFor('the default ServiceAccount', kcm, async () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }).then(() => true, () => false),
    );
    log(`Control plane ready at ${server}`);
    return {
      kubeconfigPath,
      kubeConfig,
      server,
      ca,
      adminToken,
      dir,
      binaries,
      serviceAccountKeyPath: pki('sa.key'),
      serviceClusterIpRange: serviceRange,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
