// Outbound end to end: the real operator, webhook and sidecars (Helm chart), a real Redis server
// (Debian's redis-server) as a pod behind a Service, and the built CLI running real clients
// (redis-cli, curl, a Node program using axios) with `detour run`: by the Service's short name through the by-name path, through
// --forward, through the SOCKS5 and HTTP proxies; plus the container's env and files.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { assertCliBuilt, runCli, startCli, type CliProcess } from './support/cli.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { installDetour, type InstalledDetour } from '../../cluster/install-detour.js';
import { execInPod, waitForReadyPods, waitForServiceEndpoints } from '../../cluster/pods.js';

assertCliBuilt();
const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const KUBECONFIG = process.env.KUBECONFIG!;

const BINARY = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0x80, 0x7f]);
const CONFIG_YAML = 'greeting: hello from the ConfigMap\nlist: [1, 2]\n';
const PASSWORD = 'pä$$ word\n';

let detour: InstalledDetour;
let ns: string;
let other: string;
const work = mkdtempSync(join(tmpdir(), 'detour-outbound-'));
const running: CliProcess[] = [];

function deployment(name: string, namespace: string, container: Record<string, unknown>, extra: Record<string, unknown> = {}, labels: Record<string, string> = {}) {
  return {
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name, ...labels } }, spec: { containers: [{ name: 'app', ...container }], terminationGracePeriodSeconds: 1, ...extra } },
    },
  };
}

beforeAll(async () => {
  detour = await installDetour(kc);
  ns = await createNamespace(kc, 'outbound');
  other = await createNamespace(kc, 'stock');
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'app-config' }, data: { 'app.yaml': CONFIG_YAML, MODE: 'cluster' }, binaryData: { 'logo.bin': BINARY.toString('base64') } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'db' }, data: { password: Buffer.from(PASSWORD).toString('base64'), key: BINARY.toString('base64') } } });
  await apps.createNamespacedDeployment({ namespace: ns, body: deployment('redis', ns, { image: 'redis:7', ports: [{ name: 'redis', containerPort: 6379 }] }) });
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'redis' }, spec: { selector: { app: 'redis' }, ports: [{ port: 6379, targetPort: 'redis' }] } } });
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: deployment('checkout', ns, {
      image: 'detour/echo',
      ports: [{ name: 'http', containerPort: 8080 }],
      env: [
        { name: 'LITERAL', value: 'plain value' },
        { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ],
      envFrom: [{ configMapRef: { name: 'app-config' } }],
      volumeMounts: [{ name: 'config', mountPath: '/etc/app' }, { name: 'creds', mountPath: '/var/run/secrets/db' }],
    }, { volumes: [{ name: 'config', configMap: { name: 'app-config' } }, { name: 'creds', secret: { secretName: 'db' } }] }, { 'detour.dev/inject': 'true' }),
  });
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'checkout' }, spec: { selector: { app: 'checkout' }, ports: [{ port: 80, targetPort: 'http' }] } } });
  await apps.createNamespacedDeployment({ namespace: other, body: deployment('inventory', other, { image: 'detour/echo', env: [{ name: 'POD_NAME', value: 'inventory-in-stock' }], ports: [{ name: 'http', containerPort: 8080 }] }) });
  await core.createNamespacedService({ namespace: other, body: { metadata: { name: 'inventory' }, spec: { selector: { app: 'inventory' }, ports: [{ port: 8080, targetPort: 'http' }] } } });
  const redisPods = await waitForReadyPods(kc, ns, 'app=redis', 1, 120_000).catch(async (err: unknown) => {
    const pods = (await core.listPodForAllNamespaces()).items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name} ${p.status?.phase} ${JSON.stringify(p.status?.conditions?.map((c) => `${c.type}=${c.status}`))}`);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${pods.join('\n')}`);
  });
  await waitForServiceEndpoints(kc, ns, 'redis', redisPods);
  const inventoryPods = await waitForReadyPods(kc, other, 'app=inventory', 1, 120_000);
  await waitForServiceEndpoints(kc, other, 'inventory', inventoryPods);
  await waitForReadyPods(kc, ns, 'app=checkout', 1, 120_000);
}, 400_000);

afterAll(async () => {
  writeFileSync(join(work, 'stop-server'), ''); // a command whose CLI was killed would outlive it
  writeFileSync(join(work, 'go'), '');
  await new Promise((r) => setTimeout(r, 300));
  for (const p of running) p.kill('SIGKILL');
  if (ns) await deleteNamespace(kc, ns);
  if (other) await deleteNamespace(kc, other);
  await detour?.uninstall();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

async function checkoutPod() {
  const [pod] = await waitForReadyPods(kc, ns, 'app=checkout', 1);
  return pod!;
}

const detourRun = (args: string[]) => runCli(['run', 'checkout', '-n', ns, ...args], { KUBECONFIG });

describe('detour run reaches cluster Services', () => {
  it('runs redis-cli against the Service\'s short name (by-name path), and the write is read back inside the cluster', async () => {
    const r = await detourRun(['--', 'redis-cli', '-h', 'redis', 'SET', 'written-by', 'the laptop, by name']);
    expect(r.output).toMatch(/Cluster Services reachable by name/);
    expect(r.output).toMatch(/^OK$/m);
    expect(r.code).toBe(0);
    const seen = await execInPod(await checkoutPod(), ['redis-cli', '-h', 'redis', 'GET', 'written-by']);
    expect(seen.trim()).toBe('the laptop, by name');
  });

  it('runs redis-cli through --forward (no by-name path), both ways', async () => {
    await execInPod(await checkoutPod(), ['redis-cli', '-h', 'redis', 'SET', 'from-cluster', 'cluster value']);
    const r = await detourRun(['--no-by-name', '--forward', '16379:redis:6379', '--', 'sh', '-c', 'redis-cli -p 16379 GET from-cluster && redis-cli -p 16379 SET via-forward yes']);
    expect(r.output).toMatch(/^cluster value$/m);
    expect(r.code).toBe(0);
    expect((await execInPod(await checkoutPod(), ['redis-cli', '-h', 'redis', 'GET', 'via-forward'])).trim()).toBe('yes');
  });

  it('reaches http://name.ns:port in another namespace through the SOCKS5 (ALL_PROXY) and HTTP proxies with curl', async () => {
    const url = `http://inventory.${other}:8080/stock`;
    const o = (n: string) => join(work, `${n}.json`);
    const r = await detourRun(['--no-by-name', '--', 'sh', '-c', `curl -sS -o ${o('socks')} "${url}?via=socks" && curl -sS -o ${o('http')} -x "$HTTP_PROXY" "${url}?via=http" && curl -sS -o ${o('connect')} -p -x "$HTTP_PROXY" "${url}?via=connect"`]);
    expect(r.code).toBe(0);
    const answers = ['socks', 'http', 'connect'].map((n) => JSON.parse(readFileSync(o(n), 'utf8')) as { pod: string; path: string });
    expect(answers.map((a) => a.path)).toEqual(['/stock?via=socks', '/stock?via=http', '/stock?via=connect']);
    expect(answers.every((a) => a.pod === 'inventory-in-stock')).toBe(true);
  });

  it('reaches http://name.ns:port in another namespace from a Node program using axios, which honours the HTTP_PROXY detour run sets', async () => {
    const out = join(work, 'axios.json');
    const axiosPath = createRequire(import.meta.url).resolve('axios'); // its CommonJS build
    const script = [
      `const fs = require('fs'), axios = require(${JSON.stringify(axiosPath)});`,
      `axios.get('http://inventory.${other}:8080/stock?via=axios', { timeout: 30000 }).then(`,
      `  (r) => fs.writeFileSync(${JSON.stringify(out)}, JSON.stringify({ status: r.status, body: r.data, proxy: process.env.HTTP_PROXY })),`,
      '  (e) => { console.error(`axios failed: ${e.message}`); process.exit(1); });',
    ].join('\n');
    // --no-by-name: the laptop cannot resolve inventory.<ns> itself, so only the proxy can get it there.
    const r = await detourRun(['--no-by-name', '--', process.execPath, '-e', script]);
    expect(r.output).not.toMatch(/axios failed/);
    expect(r.code).toBe(0);
    const seen = JSON.parse(readFileSync(out, 'utf8')) as { status: number; body: { pod: string; path: string }; proxy: string };
    expect(seen.proxy).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(seen.status).toBe(200);
    expect(seen.body.pod).toBe('inventory-in-stock');
    expect(seen.body.path).toBe('/stock?via=axios');
  });

  it('answers an unknown name and a closed port with clear errors', async () => {
    const [redis] = await waitForReadyPods(kc, ns, 'app=redis', 1);
    const ip = redis!.status!.podIP!;
    const r = await detourRun(['--no-by-name', '--', 'sh', '-c', `curl -sS -i -x "$HTTP_PROXY" http://nosuch:80/; curl -sS -i -x "$HTTP_PROXY" http://${ip}:6380/; curl -sS --socks5-hostname "\${ALL_PROXY#socks5h://}" http://nosuch:80/; exit 0`]);
    expect(r.output).toMatch(/x-detour-reason: cannot resolve nosuch in the pod: ENOTFOUND/i);
    expect(r.output).toMatch(new RegExp(`x-detour-reason: cannot connect to ${ip.replaceAll('.', '\\.')}:6380: ECONNREFUSED`, 'i'));
    expect(r.output).toMatch(/SOCKS5.*(unreachable|\(4\))/i);
  });
});

describe('detour run gives the container\'s env and files', () => {
  it('exposes env, ConfigMap and Secret files byte-equal, removes DETOUR_ROOT after, passes the exit code, shows an Outbound intercept meanwhile', async () => {
    const out = join(work, 'seen.json');
    const go = join(work, 'go');
    const script = [
      'const fs = require("fs"), path = require("path"), crypto = require("crypto");',
      'const root = process.env.DETOUR_ROOT;',
      'const hash = (p) => crypto.createHash("sha256").update(fs.readFileSync(path.join(root, p))).digest("hex");',
      'const mode = (p) => (fs.statSync(path.join(root, p)).mode & 0o777).toString(8);',
      `fs.writeFileSync(${JSON.stringify(out)}, JSON.stringify({ root, env: { LITERAL: process.env.LITERAL, DB_PASSWORD: process.env.DB_PASSWORD, MODE: process.env.MODE, POD_NAME: process.env.POD_NAME },`,
      '  files: { yaml: hash("etc/app/app.yaml"), logo: hash("etc/app/logo.bin"), password: hash("var/run/secrets/db/password"), key: hash("var/run/secrets/db/key") },',
      '  modes: { yaml: mode("etc/app/app.yaml"), password: mode("var/run/secrets/db/password") } }));',
      `while (!fs.existsSync(${JSON.stringify(go)})) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); }`,
      'process.exit(7);',
    ].join('\n');
    writeFileSync(join(work, 'probe.cjs'), script);
    const cli = startCli(['run', 'checkout', '-n', ns, '--no-by-name', '--', process.execPath, join(work, 'probe.cjs')], { KUBECONFIG });
    running.push(cli);
    const seen = await eventually('the command to report what it sees', async () => (existsSync(out) ? JSON.parse(await import('node:fs/promises').then((f) => f.readFile(out, 'utf8'))) as {
      root: string; env: Record<string, string>; files: Record<string, string>; modes: Record<string, string>;
    } : undefined), 180_000);
    const list = await custom.listNamespacedCustomObject({ group: 'detour.dev', version: 'v1alpha1', namespace: ns, plural: 'intercepts' }) as { items: Array<{ spec: { mode?: string; workload: { name: string } } }> };
    expect(list.items.filter((i) => i.spec.mode === 'Outbound' && i.spec.workload.name === 'checkout')).toHaveLength(1);
    writeFileSync(go, '');
    const { code } = await cli.exited;
    const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
    expect(seen.env).toEqual({ LITERAL: 'plain value', DB_PASSWORD: PASSWORD, MODE: 'cluster', POD_NAME: expect.stringMatching(/^checkout-/) });
    expect(seen.files).toEqual({ yaml: sha(CONFIG_YAML), logo: sha(BINARY), password: sha(PASSWORD), key: sha(BINARY) });
    expect(seen.modes).toEqual({ yaml: '644', password: '600' });
    expect(code).toBe(7);
    expect(existsSync(seen.root)).toBe(false);
    // The Outbound intercept was removed with the run.
    await eventually('the run\'s Intercept to be gone', async () => {
      const l = await custom.listNamespacedCustomObject({ group: 'detour.dev', version: 'v1alpha1', namespace: ns, plural: 'intercepts' }) as { items: unknown[] };
      return l.items.length === 0 ? true : undefined;
    }, 60_000);
  });
});

describe('detour intercept ... -- COMMAND', () => {
  it('routes matching requests to the command while it runs, gives it the cluster, and ends the intercept with it', async () => {
    const go = join(work, 'stop-server');
    const server = [
      'const fs = require("fs"), http = require("http");',
      'const s = http.createServer((req, res) => res.end(`laptop with ${process.env.LITERAL} at ${process.env.DETOUR_ROOT ? "root" : "none"}`)).listen(Number(process.argv[2]), "127.0.0.1");',
      `setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) { s.close(); process.exit(3); } }, 100);`,
    ].join('\n');
    writeFileSync(join(work, 'server.cjs'), server);
    const port = 30000 + Math.floor(Math.random() * 20000);
    const cli = startCli(['intercept', 'checkout', '-n', ns, '--header', 'x-detour-user=cmd', '--to', String(port), '--', process.execPath, join(work, 'server.cjs'), String(port)], { KUBECONFIG });
    running.push(cli);
    await cli.waitFor(/Serving 1\/1 replica/, 180_000);
    const pod = await checkoutPod();
    const body = await eventually('a routed request to reach the command', async () => {
      const out = await execInPod(pod, ['curl', '-sS', '-H', 'x-detour-user: cmd', `http://checkout.${ns}/`]).catch(() => '');
      return out.startsWith('laptop') ? out : undefined;
    }, 60_000);
    expect(body).toBe('laptop with plain value at root');
    writeFileSync(go, '');
    const { code } = await cli.exited;
    expect(code).toBe(3);
    expect(cli.output).toMatch(/Deleted Intercept cmd-checkout/);
  });
});
