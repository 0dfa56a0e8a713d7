// Item 3 (child process, root): on a real local cluster (control plane + test node running pods),
// with the real operator (in this process, control channel on the node network's host address so
// sidecars in pods reach it) and the real webhook (in this process, registered by URL with the
// caBundle the certificate manager keeps), an already-injected Deployment of the echo fixture:
//   - plain: the time of one plain request to the pod through its sidecar (keep-alive);
//   - routed: from spawning `kubectl apply` of an Intercept (fallback Reject) to the first matching
//     request that the sidecar answers by the new route (503 "no developer connected"): the
//     operator reconciled, pushed the table, and the sidecar serves it;
//   - developer: from the same start to the first matching request answered by a developer's
//     laptop: the token Secret read, a tunnel connected to the pod, the request served through it.

import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, type V1MutatingWebhookConfiguration, type V1Pod } from '@kubernetes/client-node';
import { SIDECAR_CONTAINER, SIDECAR_TUNNEL_PORT } from '../core/constants.js';
import { tokenSecretName } from '../core/api/intercept.js';
import { buildLogger } from '../core/logging.js';
import { buildRegistry } from '../core/metrics.js';
import { startCertificateManager } from '../core/tls/certificate-manager.js';
import { connectTunnel, type Tunnel } from '../core/tunnel/developer.js';
import { buildKubeClient } from '../core/kube/client.js';
import { startOperator } from '../operator/operator.js';
import { startLocalCluster } from '../cluster/start-local-cluster.js';
import { applyInterceptCrd, interceptsPath } from '../cluster/intercept-crd.js';
import { buildApp } from '../webhook/app.js';
import { buildInjectionConfig } from '../webhook/config.js';
import { buildWebhookMetrics } from '../webhook/metrics.js';
import { buildMutatingWebhookConfiguration } from '../webhook/registration.js';
import { sleep } from '../core/sleep.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (line: string): void => { process.stderr.write(`[cluster] ${line}\n`); };

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { const v = await probe(); if (v !== undefined) return v; } catch { /* retry */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

function get(agent: http.Agent, host: string, port: number, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = http.get({ host, port, path: '/bench', headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - t }));
    });
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export async function runInterceptLatency(c: { rounds?: number }, result: (r: unknown) => void): Promise<void> {
  const rounds = c.rounds ?? 3;
  const cluster = await startLocalCluster({ repoRoot, assetsDir: process.env.KUBEBUILDER_ASSETS, log });
  const stops: Array<() => Promise<unknown> | unknown> = [() => cluster.stop()];
  const stopAll = async (): Promise<void> => { for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => undefined); };
  process.removeAllListeners('SIGTERM');
  process.on('SIGTERM', () => { void stopAll().finally(() => process.exit(1)); });
  try {
    const kc = cluster.plane.kubeConfig;
    const client = buildKubeClient(kc);
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const quiet = buildLogger({ name: 'bench', level: 'silent' });
    await applyInterceptCrd(client);

    log('Starting the operator and the webhook in-process');
    const operator = await startOperator({
      kubeConfig: kc, logger: quiet, registry: buildRegistry(false), identity: 'bench-operator', leaseNamespace: 'default', leaseName: 'detour-operator-bench',
      controlPort: 0, healthPort: 0, metricsPort: 0, host: cluster.net.hostAddress, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 500,
    });
    stops.push(() => operator.stop());
    await until('the operator to lead', async () => (operator.isReady() ? true : undefined));

    const ns = 'detour-bench';
    const configName = 'detour-bench-injector';
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await until('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
    const metrics = buildWebhookMetrics(buildRegistry(false));
    const manager = startCertificateManager({
      kube: kc, namespace: ns, secretName: 'detour-webhook-tls', webhookConfigName: configName, serviceName: 'detour-webhook',
      ipAddresses: ['127.0.0.1'], clock: { now: () => new Date() }, logger: quiet, manual: true,
    });
    stops.push(() => manager.stop());
    await manager.reconcile();
    const config = buildInjectionConfig({ sidecarImage: 'ghcr.io/detour-dev/detour:bench', operatorUrl: `ws://${cluster.net.hostAddress}:${operator.controlPort}/control` });
    const app = buildApp({ config, logger: quiet, metrics, tls: manager.current()! });
    await app.listen({ host: '127.0.0.1', port: 0 });
    stops.push(() => app.close());
    const port = (app.server.address() as AddressInfo).port;
    await admission.createMutatingWebhookConfiguration({ body: buildMutatingWebhookConfiguration({ name: configName, clientConfig: { url: `https://127.0.0.1:${port}/mutate` } }) as unknown as V1MutatingWebhookConfiguration });
    stops.push(() => admission.deleteMutatingWebhookConfiguration({ name: configName }));
    await manager.reconcile();
    const appContainer = { name: 'app', image: 'detour/echo', ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 } };
    await until('the API server to call the webhook', async () => {
      const pod = await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'probe', labels: { 'detour.dev/inject': 'true' } }, spec: { containers: [appContainer] } }, dryRun: 'All' });
      return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].some((x) => x.name === SIDECAR_CONTAINER) ? true : undefined;
    }, 30_000, 200);

    log('Deploying an injected echo workload');
    await apps.createNamespacedDeployment({ namespace: ns, body: {
      metadata: { name: 'shop' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'shop' } }, template: { metadata: { labels: { app: 'shop', 'detour.dev/inject': 'true' } }, spec: { containers: [appContainer], terminationGracePeriodSeconds: 1 } } },
    } });
    const pod = await until('a ready injected pod', async () => {
      const list = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=shop' });
      const p = list.items.find((x) => x.status?.conditions?.some((k) => k.type === 'Ready' && k.status === 'True'));
      return p;
    }, 120_000, 250) as V1Pod;
    const sidecar = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((x) => x.name === SIDECAR_CONTAINER)!;
    const proxyPort = sidecar.ports!.find((p) => p.name === 'http')!.containerPort;
    const tunnelPort = Number(sidecar.env?.find((e) => e.name === 'DETOUR_TUNNEL_PORT')?.value ?? SIDECAR_TUNNEL_PORT);
    const podIp = pod.status!.podIP!;
    await until('the sidecar to connect to the operator', async () => (operator.hub.count() > 0 ? true : undefined), 60_000);

    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    // The laptop: a local server the developer end forwards to.
    const laptop = http.createServer((_q, s) => { s.writeHead(200, { 'x-served-by': 'laptop' }); s.end('laptop'); });
    await new Promise<void>((r) => laptop.listen(0, '127.0.0.1', () => r()));
    stops.push(() => new Promise((r) => { laptop.closeAllConnections(); laptop.close(() => r(undefined)); }));
    const laptopUrl = `http://127.0.0.1:${(laptop.address() as AddressInfo).port}`;

    for (let i = 0; i < 20; i++) await get(agent, podIp, proxyPort); // warm-up
    const plain: number[] = [];
    for (let i = 0; i < 50; i++) plain.push((await get(agent, podIp, proxyPort)).ms);

    const kubeconfigPath = cluster.plane.kubeconfigPath;
    for (let r = 0; r < rounds; r++) {
      const name = `bench-${r}`;
      const user = `u${r}`;
      const yaml = `apiVersion: detour.dev/v1alpha1\nkind: Intercept\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  workload: {kind: Deployment, name: shop}\n  port: http\n  match: {headers: [{name: x-detour-user, exact: ${user}}]}\n  fallback: Reject\n  owner: bench@example.com\n`;
      let tunnel: Tunnel | undefined;
      const t0 = performance.now();
      const kubectl = spawn('kubectl', ['--kubeconfig', kubeconfigPath, 'apply', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let kubectlErr = '';
      kubectl.stderr.on('data', (b: Buffer) => { kubectlErr += b.toString(); });
      const applied = new Promise<number>((resolve, reject) => kubectl.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`kubectl apply failed: ${kubectlErr}`)))));
      kubectl.stdin.end(yaml);
      // The developer side: read the token Secret as soon as it exists, connect to the pod's tunnel port.
      const developer = (async () => {
        const secret = await until('the token Secret', () => core.readNamespacedSecret({ name: tokenSecretName(name), namespace: ns }), 30_000, 10);
        const token = Buffer.from(secret.data!.token!, 'base64').toString('utf8');
        const tokenAt = performance.now() - t0;
        tunnel = await until('a tunnel', () => connectTunnel({ url: `ws://${podIp}:${tunnelPort}/tunnel`, token, target: laptopUrl }), 30_000, 10);
        return { tokenAt, tunnelAt: performance.now() - t0 };
      })();
      let routedMs: number | undefined;
      let devMs: number | undefined;
      let polls = 0;
      const deadline = performance.now() + 30_000;
      while (devMs === undefined && performance.now() < deadline) {
        polls++;
        const res = await get(agent, podIp, proxyPort, { 'x-detour-user': user }).catch(() => undefined);
        const now = performance.now() - t0;
        if (res && routedMs === undefined && (res.status === 503 || res.headers['x-served-by'] === 'laptop')) routedMs = now;
        if (res?.headers['x-served-by'] === 'laptop') devMs = now;
        else await sleep(2);
      }
      const kubectlMs = await applied;
      const dev = await developer;
      result({ round: r, kubectlMs, routedMs, developerMs: devMs, tokenMs: dev.tokenAt, tunnelMs: dev.tunnelAt, polls });
      log(`round ${r + 1}/${rounds}: kubectl ${kubectlMs.toFixed(0)} ms, routed ${routedMs?.toFixed(0)} ms, developer ${devMs?.toFixed(0)} ms`);
      await (tunnel as Tunnel | undefined)?.close();
      await client.request('DELETE', interceptsPath(ns, name));
      await until('the route to go', async () => ((await get(agent, podIp, proxyPort, { 'x-detour-user': user })).status === 200 ? true : undefined), 30_000, 20);
    }
    result({ plainMs: plain });
    agent.destroy();
  } finally {
    await stopAll();
  }
  process.exit(0);
}
