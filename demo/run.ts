// `npm run demo`: the whole Detour story on this machine, in a few minutes.
//   1. a local cluster (control plane + test node that really runs pods)
//   2. Detour installed with its Helm chart (operator + webhook)
//   3. a demo system: frontend → middle → backend → inventory; frontend and middle propagate the
//      W3C `baggage` header with OpenTelemetry's W3CBaggagePropagator (middle passes nothing else on)
//   4. "your laptop's" version of backend, which calls inventory by its cluster name
//   5. a personal intercept with the real `detour` CLI, by baggage member (--baggage), running the
//      laptop's backend (`detour intercept … -- node …`: the container's env, cluster Services by name)
//   6. the same request with and without your baggage member, side by side
//   then everything is cleaned up (`--keep` leaves the cluster running).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { startLocalCluster, type LocalCluster } from '../cluster/start-local-cluster.js';
import { eventually } from '../cluster/kube.js';
import { installDetour, type InstalledDetour } from '../cluster/install-detour.js';
import { waitForReadyPods } from '../cluster/pods.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const NS = 'demo';
const HEADER = 'x-detour-user';
const KEY = 'detour-user';
const ME = 'alice';
const ROLES = ['backend', 'middle', 'frontend'] as const;
type Role = (typeof ROLES)[number];
const NEXT: Record<Role, string | undefined> = { frontend: 'middle', middle: 'backend', backend: undefined };
/** How backend reaches inventory, in the cluster and (the same env, through Detour) on the laptop. */
const INVENTORY_URL = 'http://inventory:8080/';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
let stepNo = 0;
const step = (title: string) => console.log(`\n${bold(`[${++stepNo}/6] ${title}`)}`);
const detail = (line: string) => console.log(dim(`      ${line}`));

function demoDeployment(role: Role): V1Deployment {
  return {
    metadata: { name: role, labels: { app: role } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: role } },
      template: {
        // GitOps style: the label is in the manifest, so the sidecar is there before any intercept.
        metadata: { labels: { app: role, ...(role === 'backend' ? { 'detour.dev/inject': 'true' } : {}) } },
        spec: {
          containers: [{
            name: role,
            image: `detour/demo-${role}`,
            env: [
              { name: 'ROLE', value: role },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ...(NEXT[role] ? [{ name: 'NEXT_URL', value: `http://${NEXT[role]}.${NS}.svc.cluster.local/` }] : []),
              ...(role === 'backend' ? [{ name: 'INVENTORY_URL', value: INVENTORY_URL }] : []),
            ],
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
          }],
        },
      },
    },
  };
}

/** A cluster-only dependency of backend (the demo's service image with ROLE=inventory). */
function inventoryDeployment(): V1Deployment {
  return {
    metadata: { name: 'inventory', labels: { app: 'inventory' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'inventory' } },
      template: {
        metadata: { labels: { app: 'inventory' } },
        spec: {
          containers: [{
            name: 'inventory', image: 'detour/demo-backend',
            env: [{ name: 'ROLE', value: 'inventory' }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
          }],
        },
      },
    },
  };
}

async function deployDemo(kc: KubeConfig): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: NS }), 120_000, 300);
  await apps.createNamespacedDeployment({ namespace: NS, body: inventoryDeployment() });
  await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'inventory' }, spec: { selector: { app: 'inventory' }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] } } });
  for (const role of ROLES) {
    await apps.createNamespacedDeployment({ namespace: NS, body: demoDeployment(role) });
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: role }, spec: { selector: { app: role }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } } });
  }
  for (const role of ['inventory', ...ROLES]) {
    const pods = await waitForReadyPods(kc, NS, `app=${role}`, role === 'inventory' ? 1 : 2, 120_000);
    const containers = [...(pods[0]!.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'), ...(pods[0]!.spec?.containers ?? [])].map((c) => c.name);
    detail(`${role}: ${pods.map((p) => `${p.metadata!.name} (${p.status!.podIP})`).join(', ')} — containers: ${containers.join(', ')}`);
  }
  const svc = await core.readNamespacedService({ name: 'frontend', namespace: NS });
  return `http://${svc.spec!.clusterIP}/`;
}

/** A free port on localhost for the laptop's backend. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

interface Answer {
  service?: string;
  version?: string;
  pod?: string;
  backend?: Answer;
  inventory?: { pod: string; stock: Record<string, number> };
  inventoryError?: string;
  error?: string;
}

async function ask(url: string, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as Answer;
}

/** Where the chain ended: the backend that answered (through middle), or the first error. */
function describe(a: Answer): string {
  if (a.error !== undefined) return `error: ${a.error}`;
  if (a.backend) return describe(a.backend);
  if (a.service !== 'backend') return 'error: no answer from backend';
  if (a.version !== 'laptop') return `backend in the cluster (pod ${a.pod})`;
  const inv = a.inventory;
  return `backend on YOUR LAPTOP, ${inv ? `with stock ${JSON.stringify(inv.stock)} it fetched from inventory in the cluster (pod ${inv.pod})` : `but its call to inventory failed: ${a.inventoryError ?? 'no answer'}`}`;
}

const mine = { baggage: `${KEY}=${ME}` };

async function main(): Promise<void> {
  console.log(bold('Detour demo: a personal route to your laptop through a shared workload'));
  let cluster: LocalCluster | undefined;
  let detour: InstalledDetour | undefined;
  let cli: ChildProcess | undefined;
  const cleanup = async () => {
    console.log(`\n${bold('Cleaning up')}`);
    if (cli && cli.exitCode === null) {
      cli.kill('SIGINT');
      await new Promise((r) => { cli!.once('exit', r); setTimeout(r, 10_000); });
      detail('the CLI left and deleted its Intercept');
    }
    if (keep && cluster) {
      console.log(`The cluster keeps running (--keep): export KUBECONFIG=${cluster.plane.kubeconfigPath}`);
      console.log('Stop it with Ctrl-C.');
      await new Promise<void>((r) => process.once('SIGINT', () => r()));
    }
    await detour?.uninstall().catch(() => undefined);
    await cluster?.stop();
    detail('local cluster stopped; nothing left behind');
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    step('Starting a local cluster (etcd, kube-apiserver, controller-manager, scheduler, a test node)');
    detail('the first run builds the Kubernetes binaries from the Go module proxy (~7 min on 2 cores); later runs take seconds');
    cluster = await startLocalCluster({ repoRoot, assetsDir: process.env.KUBEBUILDER_ASSETS, log: (l) => detail(l) });
    const kc = cluster.plane.kubeConfig;

    step('Installing Detour with its Helm chart (operator, webhook, Intercept CRD)');
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'detour-system' } } });
    detour = await installDetour(kc, { releaseName: 'detour', namespace: 'detour-system', values: { operator: { replicas: 1 } } });
    detail(`installed into ${detour.namespace}; sidecars report to ${detour.operatorUrl}`);

    step(`Deploying the demo system in namespace ${NS}: frontend → middle → backend → inventory (backend is labelled detour.dev/inject=true)`);
    detail('frontend and middle propagate the W3C baggage header with OpenTelemetry\'s W3CBaggagePropagator; middle passes no other header on');
    const frontendUrl = await deployDemo(kc);

    step("Your laptop's version of backend");
    const port = await freePort();
    const laptopBackend = join(repoRoot, 'dist', 'test', 'fixtures', 'demo-service-main.js');
    detail(`the demo's service with VERSION=laptop on localhost:${port}; like the cluster copy it calls INVENTORY_URL=${INVENTORY_URL}`);
    detail('(inventory exists only in the cluster: detour gives the command the container\'s env and the cluster\'s Services by name)');

    step(`Creating your personal intercept with the detour CLI, by baggage member, running the laptop's backend`);
    const args = ['intercept', 'backend', '-n', NS, '--port', 'http', '--baggage', `${KEY}=${ME}`, '--to', `localhost:${port}`, '--ttl', '30m', '--', 'node', laptopBackend];
    console.log(`      $ PORT=${port} VERSION=laptop detour ${args.join(' ')}`);
    cli = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), ...args], {
      env: { ...process.env, KUBECONFIG: cluster.plane.kubeconfigPath, NO_COLOR: '1', PORT: String(port), VERSION: 'laptop', PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const relay = (d: Buffer) => { for (const line of d.toString().split('\n')) if (line.trim()) console.log(`      │ ${line}`); };
    cli.stdout!.on('data', relay);
    cli.stderr!.on('data', relay);
    await eventually('your requests to reach the laptop', async () => (describe(await ask(frontendUrl, mine)).includes('LAPTOP') ? true : undefined), 180_000, 300);

    step('Sending the same request to frontend, with and without your baggage member');
    const rows: Array<[string, string]> = [];
    const requests: Array<Record<string, string>> = [{}, mine, { baggage: `${KEY}=bob` }, { [HEADER]: ME }, { baggage: `tenant=t1,${KEY}=${ME};source=browser` }];
    for (const headers of requests) {
      const flags = Object.entries(headers).map(([k, v]) => `-H '${k}: ${v}' `).join('');
      rows.push([`curl ${flags}http://frontend.${NS}/`, describe(await ask(frontendUrl, headers))]);
    }
    const width = Math.max(...rows.map(([a]) => a.length));
    console.log(`\n      ${'request'.padEnd(width)}   frontend got its answer from`);
    for (const [req, ans] of rows) console.log(`      ${req.padEnd(width)}   ${ans.includes('LAPTOP') ? bold(ans) : ans}`);
    console.log(`\n      Only requests whose baggage carried ${KEY}=${ME} reached your laptop, two services deep; everyone else kept`);
    console.log(`      using the cluster. A plain ${HEADER} header does not get that far: middle passes only baggage on.`);
    console.log(`      Your laptop's backend called ${INVENTORY_URL} by its cluster name, through Detour's outbound path.`);
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(`\ndetour demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
