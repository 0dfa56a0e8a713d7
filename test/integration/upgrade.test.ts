// Upgrading Detour while intercepts are live (issue 19.3), on the local cluster: the chart of the
// previous release (built from its git tag, test/upgrade/previous-release.ts) with its operator,
// webhook and sidecars; intercepts with developers connected through the NEW CLI to the OLD
// sidecars; requests flowing all the time, matching and not; `helm upgrade` to the working tree;
// then `helm rollback`. What a platform team would notice is asserted:
// - no request fails during the upgrade or the rollback (non-matching: the app answers; matching:
//   the developer does);
// - live intercepts keep routing through old sidecars under the new operator, and a NEW intercept
//   routes through them (the new operator serves control protocol 1: the skew policy's N−1);
// - the new CLI connects to old sidecars; a pod that restarts gets the new sidecar;
// - after the rollback the old operator serves the new sidecar (it falls back to protocol 1) and a
//   restarted pod gets the old sidecar again.
// Pod restarts are deliberate steps between the phases; requests during them are not counted (the
// Service's endpoints lag a deleted pod in any cluster, with or without Detour).

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { CoreV1Api, AppsV1Api, type V1Pod } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION, SIDECAR_CONTAINER } from '../../core/constants.js';
import { parseInjectionRecord } from '../../core/injection-record.js';
import { DETOUR_VERSION } from '../../core/version/version.js';
import { ensureControlPlaneBinaries } from '../../cluster/controlplane/binaries.js';
import { ensurePreviousRelease, readPreviousRelease, type BuiltRelease } from '../upgrade/previous-release.js';
import { assertCliBuilt, REPO_ROOT, runCli, startCli, startLocalServer, type CliProcess, type LocalServer } from './support/cli.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { installDetour, type InstalledDetour, type Values } from '../../cluster/install-detour.js';
import { buildKubeClient, condition, createIntercept, waitForIntercept } from './support/operator-harness.js';
import { isReady, waitForServiceEndpoints } from '../../cluster/pods.js';

const run = promisify(execFile);
assertCliBuilt();
const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const client = buildKubeClient(kc);
const KUBECONFIG = process.env.KUBECONFIG!;
const REPOSITORY = 'ghcr.io/detour-dev/detour';
/** The previous release's version (test/upgrade/previous-release.json), and as a regex. */
const PREVIOUS = readPreviousRelease().version;
const PREVIOUS_RE = PREVIOUS.replace(/\./g, '\\.');
const CURRENT_RE = DETOUR_VERSION.replace(/\./g, '\\.');

let previous: BuiltRelease;
let detour: InstalledDetour | undefined;
let installValues: Values;
let ns: string;
let serviceUrl: string;
const developers = new Map<string, LocalServer>();
const clis: CliProcess[] = [];

const sidecarOf = (pod: V1Pod) => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === SIDECAR_CONTAINER);

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(`${serviceUrl}${path}`, { headers, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

async function livePods(count: number): Promise<V1Pod[]> {
  return eventually(`${count} ready checkout pods with a sidecar`, async () => {
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=checkout' })).items.filter((p) => !p.metadata?.deletionTimestamp);
    return pods.length === count && pods.every((p) => isReady(p) && sidecarOf(p)) ? pods : undefined;
  }, 120_000, 300);
}

/** The sidecar's /metrics (admin port from the injection record): detour_build_info exists from 0.2.0 on. */
async function sidecarBuild(pod: V1Pod): Promise<string> {
  const record = parseInjectionRecord(pod.metadata!.annotations![INJECTED_ANNOTATION])!;
  const text = await (await fetch(`http://${pod.status!.podIP}:${record.adminPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  return /detour_build_info\{version="([^"]+)"/.exec(text)?.[1] ?? 'none (0.1.x)';
}

/** Requests with the developer's header reach them on every replica; the others reach the app. */
async function expectRouted(user: string): Promise<void> {
  await eventually(`requests with x-detour-user: ${user} to reach the developer`, async () => {
    for (let n = 0; n < 8; n++) {
      const res = await get(`/r/${n}`, { 'x-detour-user': user });
      if (res.status !== 200 || res.body !== `${user}: GET /r/${n}`) return undefined;
    }
    return true;
  }, 60_000, 500);
  for (let n = 0; n < 4; n++) expect(JSON.parse((await get('/plain')).body)).toMatchObject({ pod: expect.stringMatching(/^checkout-/) });
}

/** Until the user's CLI has a tunnel to each of `replicas` sidecars (the Intercept's status.clients). */
async function waitForClients(user: string, replicas: number): Promise<void> {
  await waitForIntercept(client, ns, `${user}-checkout`, `${user}'s tunnels to ${replicas} replicas`, (i) => i.status?.clients === replicas);
}

async function intercept(user: string): Promise<void> {
  await createIntercept(client, ns, `${user}-checkout`, { workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', owner: `${user}@example.com`, match: { headers: [{ name: 'x-detour-user', exact: user }] } });
  await waitForIntercept(client, ns, `${user}-checkout`, 'Active with both sidecars', (i) => i.status?.phase === 'Active' && i.status.sidecars?.ready === 2);
}

/** The working tree's CLI connects the developer's local server to the Intercept. */
async function connect(user: string): Promise<void> {
  const local = await startLocalServer(user);
  developers.set(user, local);
  const cli = startCli(['connect', `${user}-checkout`, '-n', ns, '--to', `127.0.0.1:${local.port}`], { KUBECONFIG });
  clis.push(cli);
  await cli.waitFor(/Connected tunnel to[\s\S]*Connected tunnel to/, 90_000);
}

/** Requests all the time, one matching (alice) and one not per round; failures are kept with the phase. */
function startTraffic() {
  let phase = 'steady';
  let stopped = false;
  const counts = new Map<string, { matching: number; plain: number }>();
  const failures: string[] = [];
  const loop = (async () => {
    for (let n = 0; !stopped; n++) {
      const at = phase;
      const c = counts.get(at) ?? { matching: 0, plain: 0 };
      counts.set(at, c);
      const plain = await get(`/plain/${n}`).catch((e: Error) => ({ status: 0, body: e.message }));
      if (plain.status === 200 && plain.body.includes('"pod":"checkout-')) c.plain++;
      else failures.push(`${at}: non-matching /plain/${n}: ${plain.status} ${plain.body.slice(0, 120)}`);
      const matching = await get(`/m/${n}`, { 'x-detour-user': 'alice' }).catch((e: Error) => ({ status: 0, body: e.message }));
      if (matching.status === 200 && matching.body === `alice: GET /m/${n}`) c.matching++;
      else failures.push(`${at}: matching /m/${n}: ${matching.status} ${matching.body.slice(0, 120)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    set phase(p: string) { phase = p; },
    counts,
    /** Failures outside the deliberate pod restarts. */
    failures: () => failures.filter((f) => !f.startsWith('restart')),
    async stop() { stopped = true; await loop; },
  };
}
let traffic: ReturnType<typeof startTraffic> | undefined;

async function applyWorkingTreeCrd(): Promise<void> {
  // docs/install.md "Upgrading": Helm never upgrades crds/, so the CRD goes first.
  const { kubectl } = await ensureControlPlaneBinaries(process.env.KUBEBUILDER_ASSETS, () => {});
  await run(kubectl, ['apply', '--server-side', '--force-conflicts', '-f', join(REPO_ROOT, 'charts', 'detour', 'crds')], { env: { ...process.env, KUBECONFIG } });
}

async function operatorImages(): Promise<string[]> {
  return [...new Set((await detour!.operatorPods()).map((p) => p.spec!.containers[0]!.image!))];
}

/** Deletes one checkout pod; resolves with its replacement once both serve. */
async function restartOnePod(): Promise<V1Pod> {
  const before = await livePods(2);
  const known = new Set(before.map((p) => p.metadata!.uid));
  await core.deleteNamespacedPod({ namespace: ns, name: before[0]!.metadata!.name! });
  const pods = await eventually('the replacement pod', async () => {
    const list = await livePods(2);
    return list.some((p) => !known.has(p.metadata!.uid)) ? list : undefined;
  }, 120_000);
  await waitForServiceEndpoints(kc, ns, 'checkout', pods);
  return pods.find((p) => !known.has(p.metadata!.uid))!;
}

beforeAll(async () => {
  previous = await ensurePreviousRelease((line) => process.stderr.write(`[upgrade] ${line}\n`));
  // image.tag empty: each chart's appVersion, so the test node runs 0.1.0 from the release's build
  // and 0.2.0 (no build recorded for it) from the working tree's dist/.
  installValues = { image: { repository: REPOSITORY, tag: '' }, operator: { replicas: 1 } };
  detour = await installDetour(kc, { chart: previous.chart, values: installValues, timeoutMs: 180_000 });
  installValues = detour.values;
  ns = await createNamespace(kc, 'upgrade');
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
}, 900_000);

afterAll(async () => {
  await traffic?.stop();
  for (const c of clis) c.kill('SIGKILL');
  for (const d of developers.values()) await d.close();
  if (ns) {
    for (const user of ['alice', 'bob', 'carol']) await client.request('DELETE', `/apis/detour.dev/v1alpha1/namespaces/${ns}/intercepts/${user}-checkout`).catch(() => undefined);
    await eventually('the intercepts to be gone', async () => ((await client.request<{ items: unknown[] }>('GET', `/apis/detour.dev/v1alpha1/namespaces/${ns}/intercepts`)).items.length === 0 ? true : undefined), 60_000).catch(() => undefined);
  }
  await detour?.uninstall();
  if (ns) await deleteNamespace(kc, ns);
  client.close();
}, 180_000);

describe(`upgrading from the previous release to ${DETOUR_VERSION} with intercepts live`, () => {
  it(`runs the previous release (${PREVIOUS}): its operator and sidecars, an intercept served through the new CLI`, async () => {
    expect(previous.version).toBe(PREVIOUS);
    expect(await operatorImages()).toEqual([`${REPOSITORY}:${PREVIOUS}`]);
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
              terminationGracePeriodSeconds: 1,
              containers: [{ name: 'app', image: 'detour/echo', env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 } }],
            },
          },
        },
      },
    });
    const service = await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'checkout' }, spec: { selector: { app: 'checkout' }, ports: [{ name: 'web', port: 80, targetPort: 'http' }] } } });
    serviceUrl = `http://${service.spec!.clusterIP}:80`;
    const pods = await livePods(2);
    for (const pod of pods) {
      expect(sidecarOf(pod)!.image).toBe(`${REPOSITORY}:${PREVIOUS}`);
      // The previous release's code: 0.1.x records have no sidecarVersion and its metrics no detour_build_info.
      const record = parseInjectionRecord(pod.metadata!.annotations![INJECTED_ANNOTATION])!;
      expect(record.sidecarVersion ?? PREVIOUS).toBe(PREVIOUS);
      expect(await sidecarBuild(pod)).toBe(PREVIOUS.startsWith('0.1.') ? 'none (0.1.x)' : PREVIOUS);
    }
    await waitForServiceEndpoints(kc, ns, 'checkout', pods);
    await eventually('the Service to answer', () => get('/hello').catch(() => undefined));
    await intercept('alice');
    await connect('alice');
    await expectRouted('alice');
    traffic = startTraffic();
  }, 300_000);

  it('helm upgrade: no request fails, old sidecars keep routing and take new routes from the new operator, the new CLI connects to them', async () => {
    traffic!.phase = 'upgrade';
    await applyWorkingTreeCrd();
    await detour!.upgrade({});
    expect(await operatorImages()).toEqual([`${REPOSITORY}:${DETOUR_VERSION}`]);
    // The old sidecars are connected to the new operator (control protocol 1) and serve its table.
    const alice = await waitForIntercept(client, ns, 'alice-checkout', 'a status from the new operator with both sidecars', (i) => (i.status as { operatorVersion?: string } | undefined)?.operatorVersion === DETOUR_VERSION && i.status?.sidecars?.ready === 2 && i.status.phase === 'Active');
    expect(condition(alice, 'SidecarsCurrent')).toMatchObject({ status: 'True', reason: 'PreviousSidecars' });
    expect(condition(alice, 'SidecarsCurrent')!.message).toMatch(new RegExp(`2 of 2 sidecars of Deployment/checkout run the previous release \\(checkout-\\S+ \\(${PREVIOUS_RE}\\), checkout-\\S+ \\(${PREVIOUS_RE}\\)\\)`));
    // A new intercept after the upgrade: the new operator pushes its route to the old sidecars.
    traffic!.phase = 'after-upgrade';
    await intercept('bob');
    await connect('bob');
    await expectRouted('bob');
    await expectRouted('alice');
    for (const pod of await livePods(2)) expect(sidecarOf(pod)!.image).toBe(`${REPOSITORY}:${PREVIOUS}`);
    const version = await runCli(['version', '-n', ns], { KUBECONFIG });
    expect(version.code).toBe(0);
    process.stderr.write(`[upgrade] detour version -n ${ns} after the upgrade:\n${version.output}`);
    expect(version.output).toContain(`CLI:       ${DETOUR_VERSION}`);
    expect(version.output).toContain(`Operator:  ${DETOUR_VERSION} (status of Intercept `);
    expect(version.output).toMatch(new RegExp(`Sidecars: {2}Deployment/checkout \\(Intercepts alice-checkout, bob-checkout\\):\\n {2}${PREVIOUS_RE} \\(previous release: supported\\): checkout-\\S+, checkout-\\S+`));
    expect(traffic!.failures()).toEqual([]);
    expect(traffic!.counts.get('upgrade')!.plain).toBeGreaterThan(0);
  }, 420_000);

  it('a pod that restarts gets the new sidecar, and the intercepts route through old and new sidecars', async () => {
    traffic!.phase = 'restart';
    const fresh = await restartOnePod();
    expect(sidecarOf(fresh)!.image).toBe(`${REPOSITORY}:${DETOUR_VERSION}`);
    expect(parseInjectionRecord(fresh.metadata!.annotations![INJECTED_ANNOTATION])!.sidecarVersion).toBe(DETOUR_VERSION);
    expect(await sidecarBuild(fresh)).toBe(DETOUR_VERSION);
    await waitForIntercept(client, ns, 'alice-checkout', 'both sidecars ready again', (i) => i.status?.sidecars?.ready === 2 && condition(i, 'SidecarsCurrent')?.message.includes('1 of 2 sidecars') === true);
    // The replacement pod serves as soon as it is Ready; alice's CLI connects to it a moment later
    // (until then her requests on that replica fall back to the app, as fallback: App says). Count
    // again once her tunnels to both replicas are up.
    await waitForClients('alice', 2);
    traffic!.phase = 'mixed';
    await expectRouted('alice');
    await expectRouted('bob');
    const status = await runCli(['status', 'alice-checkout', '-n', ns], { KUBECONFIG });
    expect(status.output).toMatch(new RegExp(`Versions: {2}operator ${CURRENT_RE}; 1 of 2 sidecars of Deployment/checkout run the previous release \\(checkout-\\S+ \\(${PREVIOUS_RE}\\)\\)`));
  }, 300_000);

  it('helm rollback: no request fails, the old operator serves the new sidecar (protocol 1) and the old ones', async () => {
    traffic!.phase = 'rollback';
    await detour!.rollback(1, installValues);
    expect(await operatorImages()).toEqual([`${REPOSITORY}:${PREVIOUS}`]);
    traffic!.phase = 'after-rollback';
    await intercept('carol');
    await connect('carol');
    await expectRouted('carol');
    await expectRouted('alice');
    await expectRouted('bob');
    traffic!.phase = 'restart-back';
    const fresh = await restartOnePod();
    expect(sidecarOf(fresh)!.image).toBe(`${REPOSITORY}:${PREVIOUS}`);
    await waitForClients('alice', 2);
    traffic!.phase = 'end';
    await expectRouted('alice');
    await traffic!.stop();
    expect(traffic!.failures()).toEqual([]);
    const counted = [...traffic!.counts].filter(([p]) => !p.startsWith('restart'));
    process.stderr.write(`[upgrade] requests per phase: ${counted.map(([p, c]) => `${p} ${c.plain}+${c.matching}`).join(', ')}\n`);
    for (const [, c] of counted.filter(([p]) => p === 'upgrade' || p === 'rollback')) expect(c.plain).toBeGreaterThan(0);
  }, 420_000);
});
