// The detour CLI end to end: the real operator, webhook and sidecars (installed with the Helm
// chart), the CLI as a child process with KUBECONFIG, requests sent inside the cluster.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api, RbacAuthorizationV1Api, type V1Pod } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION } from '../../core/constants.js';
import { parseInjectionRecord } from '../../core/injection-record.js';
import { ensureControlPlaneBinaries } from '../../cluster/controlplane/binaries.js';
import { assertCliBuilt, REPO_ROOT, runCli, startCli, startLocalServer, type CliProcess, type LocalServer } from './support/cli.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { installDetour, type InstalledDetour } from '../../cluster/install-detour.js';
import { execInPod, isReady, waitForReadyPods, waitForServiceEndpoints } from '../../cluster/pods.js';

const run = promisify(execFile);
assertCliBuilt();
const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const KUBECONFIG = process.env.KUBECONFIG!;

let detour: InstalledDetour;
const running: CliProcess[] = [];
const servers: LocalServer[] = [];
const work = mkdtempSync(join(tmpdir(), 'detour-cli-'));

beforeAll(async () => {
  detour = await installDetour(kc);
}, 300_000);

afterAll(async () => {
  for (const p of running) p.kill('SIGKILL');
  for (const s of servers) await s.close();
  await detour?.uninstall();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

interface EchoAnswer { pod: string; path: string; headers: Record<string, string> }

/** The sidecar's listen port for the app's `http` port, from the injection record. */
function sidecarHttpPort(pod: V1Pod): number {
  const record = parseInjectionRecord(pod.metadata?.annotations?.[INJECTED_ANNOTATION]);
  const port = record?.ports.find((p) => p.name === 'http');
  if (!port) throw new Error(`pod ${pod.metadata?.name} has no Detour sidecar taking over http`);
  return port.listenPort;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

async function injectedPods(ns: string, app: string, count: number): Promise<V1Pod[]> {
  return eventually(`${count} ready pods of ${app} with a sidecar`, async () => {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
    const live = list.items.filter((p) => !p.metadata?.deletionTimestamp);
    return live.length === count && live.every((p) => isReady(p) && p.metadata?.annotations?.[INJECTED_ANNOTATION]) ? live : undefined;
  }, 120_000);
}

async function listJson(ns: string): Promise<Array<{ metadata: { name: string }; status?: { clients?: number; phase?: string } }>> {
  const r = await runCli(['list', '-n', ns, '-o', 'json'], { KUBECONFIG });
  expect(r.code).toBe(0);
  return (JSON.parse(r.output) as { items: Array<{ metadata: { name: string }; status?: { clients?: number; phase?: string } }> }).items;
}

const echoDeployment = (name: string, replicas: number, labels: Record<string, string> = {}) => ({
  metadata: { name },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name, ...labels } },
      spec: {
        containers: [{ name: 'app', image: 'detour/echo', env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], ports: [{ name: 'http', containerPort: 8080 }] }],
        terminationGracePeriodSeconds: 1,
      },
    },
  },
});

describe('the README walkthrough, exactly as written', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Personal intercept walkthrough');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const blocks = [...section.matchAll(/^( *)```(\w*)\n([\s\S]*?)^ *```/gm)].map((m) => ({
    lang: m[2]!,
    body: m[3]!.split('\n').map((l) => l.slice(m[1]!.length)).join('\n'),
  }));
  const shLines = blocks.filter((b) => b.lang === 'sh').flatMap((b) => b.body.split('\n')).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const line = (prefix: string) => {
    const l = shLines.find((x) => x.startsWith(prefix));
    if (!l) throw new Error(`the walkthrough has no line starting with "${prefix}"`);
    return l;
  };
  let kubectlDir: string;
  let cli: CliProcess;
  let client: V1Pod;

  afterAll(async () => {
    await deleteNamespace(kc, 'shop');
  });

  it('sets up the shared service with kubectl', async () => {
    expect(start).toBeGreaterThan(0);
    kubectlDir = dirname((await ensureControlPlaneBinaries(process.env.KUBEBUILDER_ASSETS)).kubectl);
    // A clean `shop` namespace (a previous run may have left one terminating).
    await deleteNamespace(kc, 'shop');
    await eventually('namespace shop to be gone', () => core.readNamespace({ name: 'shop' }).then(() => undefined, () => true), 120_000);
    const yaml = blocks.find((b) => b.lang === 'yaml')!.body;
    const file = /^# (\S+\.yaml)/m.exec(yaml)![1]!;
    writeFileSync(join(work, file), yaml);
    const env = { ...process.env, KUBECONFIG, PATH: `${kubectlDir}:${process.env.PATH}` };
    for (const l of [line('kubectl create namespace'), line('kubectl apply')]) await run('sh', ['-c', l], { cwd: work, env });
    await waitForReadyPods(kc, 'shop', 'app=checkout', 2, 120_000);
  });

  it('starts the laptop server under the intercept; the CLI says what it is doing', async () => {
    // The walkthrough's server.js, written where its `detour intercept ... -- node server.js` runs.
    const js = blocks.find((b) => b.lang === 'js' && b.body.startsWith('// server.js'))!.body;
    writeFileSync(join(work, 'server.js'), js);

    const words = line('detour intercept').split(/\s+/);
    expect(words[0]).toBe('detour');
    expect(words.slice(-3)).toEqual(['--', 'node', 'server.js']);
    cli = startCli(words.slice(1), { KUBECONFIG, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` }, work);
    running.push(cli);
    await cli.waitFor(/Creating Intercept alice-checkout/);
    await cli.waitFor(/Opting Deployment\/checkout in/);
    await cli.waitFor(/Serving 2\/2 replicas/, 180_000);
    expect(cli.output).toMatch(/Connected tunnel to checkout-/);
    await cli.waitFor(/Cluster Services reachable by name .*inventory:8080/, 60_000);
    await eventually('the laptop server on port 3000', () => get('http://127.0.0.1:3000/').then((r) => (r.status === 200 ? true : undefined), () => undefined), 30_000);

    // The client pod the walkthrough's `kubectl run` stands for.
    await core.createNamespacedPod({ namespace: 'shop', body: { metadata: { name: 'client' }, spec: { containers: [{ name: 'client', image: 'detour/shell', command: ['sleep', '3600'] }], terminationGracePeriodSeconds: 1 } } });
    client = await eventually('the client pod', async () => {
      const p = await core.readNamespacedPod({ name: 'client', namespace: 'shop' });
      return isReady(p) ? p : undefined;
    });
  }, 240_000);

  it('with the header a request reaches the laptop; without it, the cluster answers', async () => {
    const curls = shLines.filter((l) => l.includes(' -- curl ')).map((l) => l.slice(l.indexOf(' -- ') + 4));
    const withHeader = curls.find((c) => c.includes('x-detour-user: alice'))!;
    const without = curls.find((c) => !c.includes('x-detour-user'))!;
    // After the opt-in rollout the Service must point at the injected pods only (old ones linger in
    // the EndpointSlice for a moment), and kube-proxy programs that within a moment, as in any cluster.
    const injected = (await core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app=checkout' })).items
      .filter((p) => !p.metadata?.deletionTimestamp && isReady(p) && (p.spec?.initContainers ?? []).some((c) => c.name === 'detour-sidecar'));
    expect(injected).toHaveLength(2);
    await waitForServiceEndpoints(kc, 'shop', 'checkout', injected);
    // One answer can come from a new pod while kube-proxy still routes some connections to a deleted
    // one: wait until 6 in a row answer.
    await eventually('6 answers in a row from the Service', async () => {
      for (let n = 0; n < 6; n++) await execInPod(client, ['sh', '-c', without]);
      return true;
    }, 60_000);
    for (let n = 0; n < 8; n++) {
      // The laptop's server.js answered, after calling the in-cluster inventory Service by name.
      expect((await execInPod(client, ['sh', '-c', withHeader])).trim()).toMatch(/^hello from my laptop; inventory answered from pod inventory-/);
      const answer = JSON.parse(await execInPod(client, ['sh', '-c', without])) as EchoAnswer;
      expect(answer.pod).toMatch(/^checkout-/);
    }
    // The CLI showed them live.
    await cli.waitFor(/\d\d:\d\d:\d\d {2}GET +\/ {2}200 {2}.+ {2}checkout-/);
  });

  it('Ctrl-C deletes the Intercept and the cluster answers again at once', async () => {
    cli.kill('SIGINT');
    const { code } = await cli.exited;
    // Ctrl-C stops `node server.js` with SIGTERM, and the CLI exits with its code, 128+15 (docs/cli.md).
    expect(code).toBe(143);
    expect(cli.output).toMatch(/Deleted Intercept alice-checkout/);
    const curls = shLines.filter((l) => l.includes(' -- curl ')).map((l) => l.slice(l.indexOf(' -- ') + 4));
    const withHeader = curls.find((c) => c.includes('x-detour-user: alice'))!;
    for (let n = 0; n < 4; n++) {
      const answer = JSON.parse(await execInPod(client, ['sh', '-c', withHeader])) as EchoAnswer;
      expect(answer.pod).toMatch(/^checkout-/);
    }
    expect(await listJson('shop')).toEqual([]);
  });
});

describe('two developers on one 2-replica workload', () => {
  let ns: string;
  let pods: V1Pod[];
  let alice: CliProcess;
  let bob: CliProcess;
  let aliceServer: LocalServer;
  let bobServer: LocalServer;

  beforeAll(async () => {
    ns = await createNamespace(kc, 'cli');
    await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
    // Opted in already (as GitOps would): no rollout when the intercepts start.
    await apps.createNamespacedDeployment({ namespace: ns, body: echoDeployment('checkout', 2, { 'detour.dev/inject': 'true' }) });
    pods = await injectedPods(ns, 'checkout', 2);
    aliceServer = await startLocalServer('alice');
    bobServer = await startLocalServer('bob');
    servers.push(aliceServer, bobServer);
  }, 180_000);
  afterAll(() => deleteNamespace(kc, ns));

  it('each gets only their own requests, on every replica', async () => {
    alice = startCli(['intercept', 'checkout', '-n', ns, '--header', 'x-detour-user=alice', '--to', `127.0.0.1:${aliceServer.port}`], { KUBECONFIG });
    bob = startCli(['intercept', 'checkout', '-n', ns, '--header', 'x-detour-user=bob', '--to', `127.0.0.1:${bobServer.port}`], { KUBECONFIG });
    running.push(alice, bob);
    await alice.waitFor(/Serving 2\/2 replicas/);
    await bob.waitFor(/Serving 2\/2 replicas/);

    for (const pod of pods) {
      const base = `http://${pod.status!.podIP}:${sidecarHttpPort(pod)}`;
      for (let n = 0; n < 3; n++) {
        expect(await get(`${base}/a/${pod.metadata!.name}/${n}`, { 'x-detour-user': 'alice' })).toEqual({ status: 200, body: `alice: GET /a/${pod.metadata!.name}/${n}` });
        expect(await get(`${base}/b/${pod.metadata!.name}/${n}`, { 'x-detour-user': 'bob' })).toEqual({ status: 200, body: `bob: GET /b/${pod.metadata!.name}/${n}` });
        const other = await get(`${base}/c`, { 'x-detour-user': 'carol' });
        expect((JSON.parse(other.body) as EchoAnswer).pod).toBe(pod.metadata!.name);
        const none = await get(`${base}/d`);
        expect((JSON.parse(none.body) as EchoAnswer).pod).toBe(pod.metadata!.name);
      }
    }
    expect(aliceServer.received.map((r) => r.headers['x-detour-user'])).toEqual(Array(6).fill('alice'));
    expect(bobServer.received.map((r) => r.headers['x-detour-user'])).toEqual(Array(6).fill('bob'));
    // Every replica served each developer (the request log names the pod).
    for (const pod of pods) {
      expect(alice.output).toContain(`/a/${pod.metadata!.name}/0  200`);
      expect(bob.output).toContain(`/b/${pod.metadata!.name}/0  200`);
    }

    await eventually('detour list to show both developers connected to both replicas', async () => {
      const items = await listJson(ns);
      const clients = Object.fromEntries(items.map((i) => [i.metadata.name, i.status?.clients]));
      return clients['alice-checkout'] === 2 && clients['bob-checkout'] === 2 ? true : undefined;
    }, 60_000, 1000);
    const table = await runCli(['list', '-n', ns], { KUBECONFIG });
    expect(table.output).toMatch(/alice-checkout +deployment\/checkout:http +x-detour-user=alice +Steal +\S+ +Active +2 /);
  });

  it('SIGKILL of one CLI: its requests go back to the cluster once the lost tunnel is noticed, and detour list shows the truth', async () => {
    bob.kill('SIGKILL');
    await bob.exited;
    for (const pod of pods) {
      const base = `http://${pod.status!.podIP}:${sidecarHttpPort(pod)}`;
      await eventually(`bob's requests to reach ${pod.metadata!.name} again`, async () => {
        const r = await get(`${base}/after-kill`, { 'x-detour-user': 'bob' });
        return r.status === 200 && (JSON.parse(r.body) as EchoAnswer).pod === pod.metadata!.name ? true : undefined;
      }, 60_000);
      expect(await get(`${base}/still`, { 'x-detour-user': 'alice' })).toEqual({ status: 200, body: 'alice: GET /still' });
    }
    await eventually('detour list to show bob\'s Intercept with no client', async () => {
      const items = await listJson(ns);
      const bobs = items.find((i) => i.metadata.name === 'bob-checkout');
      const alices = items.find((i) => i.metadata.name === 'alice-checkout');
      return bobs?.status?.clients === 0 && alices?.status?.clients === 2 ? true : undefined;
    }, 60_000, 1000);

    // The left-over Intercept is removed with detour leave.
    const leave = await runCli(['leave', 'bob-checkout', '-n', ns], { KUBECONFIG });
    expect(leave).toMatchObject({ code: 0 });
    expect(leave.output).toMatch(/Deleted Intercept bob-checkout/);
    expect((await listJson(ns)).map((i) => i.metadata.name)).toEqual(['alice-checkout']);

    const status = await runCli(['status', 'alice-checkout', '-n', ns], { KUBECONFIG });
    expect(status.code).toBe(0);
    expect(status.output).toMatch(/Phase: +Active/);
    expect(status.output).toMatch(/ClientConnected +True/);
  });

  it('follows replicas as they come and go', async () => {
    await apps.patchNamespacedDeploymentScale({ name: 'checkout', namespace: ns, body: { spec: { replicas: 3 } } }, (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/merge-patch+json'));
    const three = await injectedPods(ns, 'checkout', 3);
    await alice.waitFor(/Serving 3\/3 replicas/);
    for (const pod of three) {
      const base = `http://${pod.status!.podIP}:${sidecarHttpPort(pod)}`;
      await eventually(`alice's tunnel on ${pod.metadata!.name}`, async () => {
        const r = await get(`${base}/new`, { 'x-detour-user': 'alice' });
        return r.body === 'alice: GET /new' ? true : undefined;
      }, 30_000);
    }
    await apps.patchNamespacedDeploymentScale({ name: 'checkout', namespace: ns, body: { spec: { replicas: 2 } } }, (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/merge-patch+json'));
    await alice.waitFor(/went away; closed its tunnel/);
  });

  it('Ctrl-C removes the Intercept; a local port nobody listens on gives 502 and says why', async () => {
    alice.kill('SIGINT');
    expect((await alice.exited).code).toBe(0);
    expect(await listJson(ns)).toEqual([]);

    const closed = await startLocalServer('gone');
    const port = closed.port;
    await closed.close();
    const dev = startCli(['intercept', 'checkout', '-n', ns, '--header', 'x-detour-user=dana', '--to', `127.0.0.1:${port}`], { KUBECONFIG });
    running.push(dev);
    await dev.waitFor(/Serving 2\/2 replicas/);
    expect(dev.output).toMatch(new RegExp(`Nothing is listening on 127\\.0\\.0\\.1:${port} yet`));
    const pod = (await injectedPods(ns, 'checkout', 2))[0]!;
    const r = await get(`http://${pod.status!.podIP}:${sidecarHttpPort(pod)}/x`, { 'x-detour-user': 'dana' });
    expect(r.status).toBe(502);
    await dev.waitFor(new RegExp(`/x  502 .*nothing is listening on 127\\.0\\.0\\.1:${port}`));
    dev.kill('SIGINT');
    expect((await dev.exited).code).toBe(0);
  });
});

describe('clear errors', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await createNamespace(kc, 'clierr');
    await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
    await apps.createNamespacedDeployment({ namespace: ns, body: echoDeployment('checkout', 1) });
  });
  afterAll(() => deleteNamespace(kc, ns));

  const intercept = (...extra: string[]) => ['intercept', 'checkout', '-n', ns, '--header', 'x-detour-user=erin', '--to', '3000', ...extra];

  it('names a missing workload and what exists instead', async () => {
    const r = await runCli(['intercept', 'chekout', '-n', ns, '--header', 'x-detour-user=erin', '--to', '3000'], { KUBECONFIG });
    expect(r.code).toBe(1);
    expect(r.output).toMatch(new RegExp(`no Deployment "chekout" in namespace ${ns} \\(Deployments there: checkout\\)`));
  });

  it('names a missing port and the ports there are', async () => {
    const r = await runCli(intercept('--port', 'grpc'), { KUBECONFIG });
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/Deployment checkout has no container port named "grpc" \(ports: http\/8080\)/);
  });

  it('says when there is no cluster configured, or none reachable', async () => {
    const none = await runCli(['list'], { KUBECONFIG: join(work, 'missing-kubeconfig') });
    expect(none.code).toBe(1);
    expect(none.output).toMatch(/no cluster configured: .*missing-kubeconfig does not exist/);

    const file = join(work, 'unreachable');
    writeFileSync(file, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }], users: [{ name: 'u', user: { token: 'x' } }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    }));
    const down = await runCli(['list'], { KUBECONFIG: file });
    expect(down.code).toBe(1);
    expect(down.output).toMatch(/cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1 \(connection refused\)/);

    const ctx = await runCli(['list', '--context', 'nope'], { KUBECONFIG });
    expect(ctx.output).toMatch(/no context "nope"/);
  });

  it('says when Detour is not installed', async () => {
    // An API server without the detour.dev API.
    const server = http.createServer((req, res) => { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('404 page not found'); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const file = join(work, 'bare');
      writeFileSync(file, JSON.stringify({
        apiVersion: 'v1', kind: 'Config', 'current-context': 'bare',
        clusters: [{ name: 'bare', cluster: { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'insecure-skip-tls-verify': true } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'bare', context: { cluster: 'bare', user: 'u' } }],
      }));
      const r = await runCli(['list'], { KUBECONFIG: file });
      expect(r.code).toBe(1);
      expect(r.output).toMatch(/Detour is not installed in this cluster \(context bare\)/);
    } finally {
      server.close();
    }
  });

  it('names the verb and resource a user may not use', async () => {
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'viewer' } } });
    await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: 'viewer' }, rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list'] }, { apiGroups: ['detour.dev'], resources: ['intercepts'], verbs: ['get', 'list'] }] } });
    await rbac.createNamespacedRoleBinding({ namespace: ns, body: { metadata: { name: 'viewer' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'viewer' }, subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: ns }] } });
    const token = (await core.createNamespacedServiceAccountToken({ name: 'viewer', namespace: ns, body: { spec: { audiences: [], expirationSeconds: 600 } } })).status!.token;
    const cluster = kc.getCurrentCluster()!;
    const file = join(work, 'viewer');
    writeFileSync(file, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'viewer',
      clusters: [{ name: 'local', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } }],
      users: [{ name: 'viewer', user: { token } }], contexts: [{ name: 'viewer', context: { cluster: 'local', user: 'viewer', namespace: ns } }],
    }));
    const r = await runCli(['intercept', 'checkout', '--header', 'x-detour-user=erin', '--to', '3000'], { KUBECONFIG: file });
    expect(r.code).toBe(1);
    expect(r.output).toMatch(new RegExp(`you are not allowed to create intercepts\\.detour\\.dev "erin-checkout" in namespace ${ns} \\(403 Forbidden\\)`));
    expect(r.output).toMatch(/Ask your cluster admin for "create" on "intercepts\.detour\.dev"/);
    const list = await runCli(['list'], { KUBECONFIG: file });
    expect(list).toMatchObject({ code: 0 });
    expect(list.output).toMatch(new RegExp(`No Intercepts in namespace ${ns}`));
  });
});
