// Ctrl-C while requests are on their way to the laptop: the real CLI (a child process with
// KUBECONFIG), the real operator, webhook and sidecars (installed with the Helm chart) on a
// 2-replica workload, a local service that answers slowly (300 ms), and GETs and POSTs with bodies
// sent to both replicas by Node's http client the whole time. Every request the laptop received is
// answered by the laptop; the ones that come later reach the app; none fails.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION } from '../../core/constants.js';
import { parseInjectionRecord } from '../../core/injection-record.js';
import { assertCliBuilt, startCli, type CliProcess } from './support/cli.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { installDetour, type InstalledDetour } from '../../cluster/install-detour.js';
import { isReady } from '../../cluster/pods.js';

assertCliBuilt();
const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const KUBECONFIG = process.env.KUBECONFIG!;

interface Answer { pod: string; path: string; bodyBytes: number; bodySha256: string }

/** The laptop: answers 300 ms after it read the whole request, with what it read. */
async function startSlowLaptop(): Promise<{ port: number; received: Set<string>; close(): Promise<void> }> {
  const received = new Set<string>();
  const server = http.createServer((req, res) => {
    received.add(req.url ?? '');
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => { hash.update(c); bytes += c.length; });
    req.on('end', () => {
      const body = JSON.stringify({ pod: 'laptop', path: req.url ?? '', bodyBytes: bytes, bodySha256: hash.digest('hex') } satisfies Answer);
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(body), 300);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

interface Sent { path: string; body?: Buffer; pod: string; status?: number; answer?: Answer; error?: string; answeredAt?: number }

function send(base: string, pod: string, n: number, agent: http.Agent): Promise<Sent> {
  const path = `/drain/${pod}/${n}`;
  const body = n % 2 === 0 ? Buffer.alloc(4096 + n, n % 251) : undefined;
  const sent: Sent = { path, pod, ...(body ? { body } : {}) };
  return new Promise((resolve) => {
    const req = http.request(`${base}${path}`, { method: body ? 'POST' : 'GET', headers: { 'x-detour-user': 'alice' }, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => {
        sent.status = res.statusCode;
        sent.answeredAt = Date.now();
        try { sent.answer = JSON.parse(text) as Answer; } catch { sent.error = text.slice(0, 200); }
        resolve(sent);
      });
    });
    req.on('error', (err) => { sent.error = err.message; resolve(sent); });
    req.end(body);
  });
}

describe('Ctrl-C with requests in flight', () => {
  let detour: InstalledDetour;
  let ns: string;
  let pods: V1Pod[];
  let laptop: Awaited<ReturnType<typeof startSlowLaptop>>;
  let cli: CliProcess | undefined;

  beforeAll(async () => {
    detour = await installDetour(kc);
    ns = await createNamespace(kc, 'drain');
    await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'checkout' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'checkout' } },
          template: {
            metadata: { labels: { app: 'checkout', 'detour.dev/inject': 'true' } },
            spec: {
              containers: [{ name: 'app', image: 'detour/echo', env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], ports: [{ name: 'http', containerPort: 8080 }] }],
              terminationGracePeriodSeconds: 1,
            },
          },
        },
      },
    });
    pods = await eventually('2 ready pods with a sidecar', async () => {
      const list = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=checkout' });
      const live = list.items.filter((p) => !p.metadata?.deletionTimestamp);
      return live.length === 2 && live.every((p) => isReady(p) && p.metadata?.annotations?.[INJECTED_ANNOTATION]) ? live : undefined;
    }, 180_000);
    laptop = await startSlowLaptop();
  }, 400_000);

  afterAll(async () => {
    cli?.kill('SIGKILL');
    await laptop?.close();
    if (ns) await deleteNamespace(kc, ns);
    await detour?.uninstall();
  }, 120_000);

  it('answers every request the laptop received from the laptop, sends later ones to the app, fails none', async () => {
    cli = startCli(['intercept', 'checkout', '-n', ns, '--header', 'x-detour-user=alice', '--to', `127.0.0.1:${laptop.port}`], { KUBECONFIG });
    await cli.waitFor(/Serving 2\/2 replicas/, 180_000);

    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const results: Array<Promise<Sent>> = [];
    let sending = true;
    const loops = pods.map(async (pod) => {
      const record = parseInjectionRecord(pod.metadata?.annotations?.[INJECTED_ANNOTATION]);
      const base = `http://${pod.status!.podIP}:${record!.ports.find((p) => p.name === 'http')!.listenPort}`;
      for (let n = 0; sending; n++) {
        results.push(send(base, pod.metadata!.name!, n, agent));
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    // Wait until the laptop is busy with requests from both replicas, then press Ctrl-C.
    await eventually('the laptop to be serving both replicas', async () => (
      pods.every((p) => [...laptop.received].some((path) => path.startsWith(`/drain/${p.metadata!.name}/`))) && laptop.received.size > 20 ? true : undefined
    ), 30_000, 50);
    const interruptedAt = Date.now();
    cli.kill('SIGINT');
    const exited = await cli.exited;
    await new Promise((r) => setTimeout(r, 1000)); // requests keep coming after the CLI is gone
    sending = false;
    await Promise.all(loops);
    const all = await Promise.all(results);
    agent.destroy();

    expect(exited.code).toBe(0);
    expect(cli.output).toMatch(/Finishing \d+ requests? in flight/);
    expect(cli.output).toMatch(/Deleted Intercept alice-checkout/);
    const failed = all.filter((s) => s.status !== 200 || s.answer === undefined).map((s) => `${s.path}: ${s.status ?? ''} ${s.error ?? ''}`);
    expect(failed).toEqual([]);
    const wrong: string[] = [];
    for (const s of all) {
      const a = s.answer!;
      const intact = a.path === s.path && a.bodyBytes === (s.body?.length ?? 0)
        && (!s.body || a.bodySha256 === createHash('sha256').update(s.body).digest('hex'));
      if (!intact) wrong.push(`${s.path}: answered by ${a.pod} for ${a.path}, ${a.bodyBytes} bytes`);
      else if (laptop.received.has(s.path) && a.pod !== 'laptop') wrong.push(`${s.path}: reached the laptop but was answered by ${a.pod}`);
      else if (!laptop.received.has(s.path) && a.pod !== s.pod) wrong.push(`${s.path}: answered by ${a.pod}, not the app of its replica`);
    }
    expect(wrong).toEqual([]);
    // The drain mattered: requests were in flight at Ctrl-C and the laptop answered them afterwards,
    // and requests sent during the drain and after reached the app.
    expect(all.filter((s) => s.answer!.pod === 'laptop' && s.answeredAt! > interruptedAt).length).toBeGreaterThan(0);
    expect(all.filter((s) => s.answer!.pod !== 'laptop').length).toBeGreaterThan(10);
    expect(all.some((s) => s.body !== undefined && s.answer!.pod === 'laptop' && s.answeredAt! > interruptedAt)).toBe(true);
  }, 300_000);
});
