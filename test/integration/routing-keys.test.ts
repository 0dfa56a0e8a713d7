// Routing keys that travel by themselves (issue 17), end to end: the real operator, webhook and
// sidecars (Helm chart), the real `detour` CLI, and a three-service chain frontend → middle →
// backend where only the frontend is given the key and the middle service propagates `baggage`
// with OpenTelemetry's W3CBaggagePropagator and nothing else. Requests are sent with curl from a
// client pod.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppsV1Api, CoreV1Api, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { assertCliBuilt, runCli, startCli, type CliProcess } from './support/cli.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { installDetour, type InstalledDetour } from '../../cluster/install-detour.js';
import { execInPod, isReady, waitForReadyPods } from '../../cluster/pods.js';

assertCliBuilt();
const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const KUBECONFIG = process.env.KUBECONFIG!;

let detour: InstalledDetour;
let ns: string;
let client: V1Pod;
const running: CliProcess[] = [];
const laptops: Laptop[] = [];

/** The developer's version of a service: answers like the demo backend and records what it got. */
interface Laptop { port: number; received: IncomingHttpHeaders[]; close(): Promise<void> }

async function startLaptop(service: string): Promise<Laptop> {
  const received: IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ service, version: 'laptop', pod: 'laptop' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const laptop = { port: (server.address() as AddressInfo).port, received, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
  laptops.push(laptop);
  return laptop;
}

function service(role: 'frontend' | 'middle' | 'backend', next?: string): V1Deployment {
  return {
    metadata: { name: role },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: role } },
      template: {
        metadata: { labels: { app: role, 'detour.dev/inject': 'true' } },
        spec: {
          containers: [{
            name: role,
            image: `detour/demo-${role}`,
            env: [
              { name: 'ROLE', value: role },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ...(next ? [{ name: 'NEXT_URL', value: `http://${next}.${ns}.svc.cluster.local/` }] : []),
            ],
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
          }],
          terminationGracePeriodSeconds: 1,
        },
      },
    },
  };
}

interface Answer { service: string; version?: string; pod: string; backend?: Answer; error?: string }

/** The service at the end of the chain that answered. */
function deepest(a: Answer): Answer {
  return a.backend ? deepest(a.backend) : a;
}

/** curl from the client pod; `args` are curl's options, each a separate word (no shell). */
async function curl(args: string[], path = '/'): Promise<Answer> {
  return JSON.parse(await execInPod(client, ['curl', '-sS', '--max-time', '10', ...args, `http://frontend.${ns}.svc.cluster.local${path}`])) as Answer;
}

beforeAll(async () => {
  detour = await installDetour(kc, { values: { operator: { replicas: 1 } } });
  ns = await createNamespace(kc, 'keys');
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
  for (const [role, next] of [['backend', undefined], ['middle', 'backend'], ['frontend', 'middle']] as const) {
    await apps.createNamespacedDeployment({ namespace: ns, body: service(role, next) });
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: role }, spec: { selector: { app: role }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } } });
  }
  for (const role of ['backend', 'middle', 'frontend']) await waitForReadyPods(kc, ns, `app=${role}`, 1, 120_000);
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'client' }, spec: { containers: [{ name: 'client', image: 'detour/shell', command: ['sleep', '3600'] }], terminationGracePeriodSeconds: 1 } } });
  client = await eventually('the client pod', async () => {
    const p = await core.readNamespacedPod({ name: 'client', namespace: ns });
    return isReady(p) ? p : undefined;
  });
  await eventually('the chain to answer end to end', async () => (deepest(await curl([])).service === 'backend' ? true : undefined), 60_000, 500);
}, 300_000);

afterAll(async () => {
  for (const p of running) p.kill('SIGKILL');
  for (const l of laptops) await l.close();
  if (ns) await deleteNamespace(kc, ns);
  await detour?.uninstall();
}, 120_000);

describe('a baggage member through a service that only propagates OpenTelemetry baggage', () => {
  let laptop: Laptop;
  let cli: CliProcess;

  it('detour intercept --baggage routes and prints how to send a matching request', async () => {
    laptop = await startLaptop('backend');
    cli = startCli(['intercept', 'backend', '-n', ns, '--baggage', 'detour-user=alice', '--to', `127.0.0.1:${laptop.port}`], { KUBECONFIG });
    running.push(cli);
    await cli.waitFor(/Serving 1\/1 replica /, 180_000);
    expect(cli.output).toMatch(/Creating Intercept alice-backend: .*baggage detour-user=alice/);
    expect(cli.output).toContain("curl -H 'baggage: detour-user=alice' http://backend/");
    const table = await runCli(['list', '-n', ns], { KUBECONFIG });
    expect(table.output).toMatch(/alice-backend +deployment\/backend:http +baggage detour-user=alice +Steal /);
  }, 240_000);

  it('the backend\'s intercept gets exactly the requests whose baggage carried the key, two hops away', async () => {
    // Each request carries a `req` member, so the laptop's record says which ones arrived.
    const sent: Array<{ id: string; args: string[]; mine: boolean }> = [];
    const add = (mine: boolean, baggage: string | undefined, extra: string[] = []) => {
      const id = `r${sent.length}`;
      const members = [`req=${id}`, ...(baggage ? [baggage] : [])].join(',');
      sent.push({ id, mine, args: ['-H', `baggage: ${members}`, ...extra] });
    };
    for (let n = 0; n < 3; n++) {
      add(true, 'detour-user=alice');
      add(false, undefined);
      add(false, 'detour-user=bob');
    }
    add(true, 'tenant=t1, detour-user = alice;source=browser');
    add(true, 'detour-user=%61lice'); // percent-encoded: the member's value is alice
    add(false, 'detour-user=alice2');
    add(false, 'x-detour-user=alice');
    add(false, 'detour-user="alice"'); // malformed member: as good as missing, never an error
    add(false, undefined, ['-H', 'x-detour-user: alice']); // a header the middle service does not pass on
    // Two baggage headers are one list.
    sent.push({ id: `r${sent.length}`, mine: true, args: ['-H', `baggage: req=r${sent.length}`, '-H', 'baggage: detour-user=alice'] });

    for (const s of sent) {
      const answer = deepest(await curl(s.args));
      expect({ id: s.id, version: answer.version }).toEqual({ id: s.id, version: s.mine ? 'laptop' : 'cluster' });
    }
    const arrived = laptop.received.map((h) => /req=(r\d+)/.exec(String(h.baggage))?.[1]);
    expect(arrived.sort()).toEqual(sent.filter((s) => s.mine).map((s) => s.id).sort());
    // What reached the laptop is what OpenTelemetry propagated: the member is still there.
    for (const h of laptop.received) expect(String(h.baggage)).toMatch(/(^|,)\s*detour-user=alice(;|,|$)/);
    expect(laptop.received.every((h) => h['x-detour-user'] === undefined)).toBe(true);
  });

  it('stops when the CLI stops', async () => {
    cli.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    expect(deepest(await curl(['-H', 'baggage: detour-user=alice'])).version).toBe('cluster');
  });
});

describe('a cookie, from a plain HTTP client', () => {
  it('a cookie-matched intercept receives the requests carrying the cookie, and only those', async () => {
    const laptop = await startLaptop('frontend');
    const cli = startCli(['intercept', 'frontend', '-n', ns, '--cookie', 'detour-user=alice', '--to', `127.0.0.1:${laptop.port}`], { KUBECONFIG });
    running.push(cli);
    await cli.waitFor(/Serving 1\/1 replica /, 180_000);
    expect(cli.output).toContain('curl -b detour-user=alice http://frontend/');
    expect(cli.output).toContain('document.cookie = "detour-user=alice; path=/"');

    const cases: Array<[string[], boolean]> = [
      [['-b', 'detour-user=alice'], true],
      [['-b', 'session=abc; detour-user=alice; theme=dark'], true],
      [['-b', 'detour-user="alice"'], true], // quotes removed (RFC 6265 allows a quoted cookie-value)
      [['-H', 'Cookie: session=abc', '-H', 'Cookie: detour-user=alice'], true], // several Cookie headers are one list
      [[], false],
      [['-b', 'detour-user=bob'], false],
      [['-b', 'detour-user=al%69ce'], false], // not percent-decoded
      [['-b', 'Detour-User=alice'], false], // names are case-sensitive
      [['-b', 'detour-user=ali\\ce'], false], // malformed: never matches, never fails
      [['-H', 'baggage: detour-user=alice'], false],
      [['-H', 'x-detour-user: alice'], false],
    ];
    let expected = 0;
    for (const [args, mine] of cases) {
      const answer = await curl(args, `/c${expected}`);
      expect({ args, service: answer.service, version: answer.version ?? 'cluster' }).toEqual({ args, service: 'frontend', version: mine ? 'laptop' : 'cluster' });
      if (mine) expected++;
    }
    expect(laptop.received).toHaveLength(expected);
    for (const h of laptop.received) expect(String(h.cookie)).toContain('alice');
    cli.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
  }, 240_000);
});
