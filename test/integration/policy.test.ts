// Who may intercept what (#15), end to end with real identities: the real chart (webhook with
// Intercept admission, operator with policy informers and per-Intercept access), X.509 client
// certificates signed by the local control plane's CA for alice, bob and mallory (CN = username,
// O = group), and a ServiceAccount token for a GitOps controller. Every rule is proven by a
// request refused with the policy and rule named and one that is allowed; the creator stamp
// cannot be forged or changed (also by server-side apply); alice reaches only her own tokens; a
// policy applied after an Intercept exists stops its routing (PolicyDenied) and deleting the
// policy restores it.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api, type V1Pod } from '@kubernetes/client-node';
import forge from 'node-forge';
import { parse } from 'yaml';
import { buildKubeClient, resourcePath, type KubeClient } from '../../core/kube/client.js';
import { CREATOR_ANNOTATION, formatCreator, readCreator } from '../../core/policy/creator.js';
import { ensureControlPlaneBinaries } from '../../cluster/controlplane/binaries.js';
import { assertCliBuilt, REPO_ROOT, runCli, startCli, startLocalServer, type CliProcess, type LocalServer } from './support/cli.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { fullname, installDetour, type InstalledDetour } from '../../cluster/install-detour.js';
import { execInPod, isReady, waitForReadyPods } from '../../cluster/pods.js';

assertCliBuilt();
const run = promisify(execFile);
const kc = loadKubeConfig();
const admin = buildKubeClient(kc);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
const work = mkdtempSync(join(tmpdir(), 'detour-policy-'));

let detour: InstalledDetour;
let ns: string;
let laptop: LocalServer;
let client: V1Pod;
let kubectl: string;
const running: CliProcess[] = [];

interface Identity { name: string; kubeconfig: string; api: KubeClient }
let alice: Identity;
let bob: Identity;
let mallory: Identity;
let gitops: Identity;

const INTERCEPTS = (n: string, name?: string) => resourcePath('detour.dev', 'v1alpha1', 'intercepts', n, name);
const POLICIES = (n: string, name?: string) => resourcePath('detour.dev', 'v1alpha1', 'interceptpolicies', n, name);
const CLUSTER_POLICIES = (name?: string) => resourcePath('detour.dev', 'v1alpha1', 'clusterinterceptpolicies', undefined, name);

interface InterceptJson {
  metadata: { name: string; annotations?: Record<string, string>; resourceVersion?: string };
  spec: Record<string, unknown> & { owner?: string; ttl?: string };
  status?: { phase?: string; allowedBy?: string; conditions?: Array<{ type: string; status: string; reason: string; message: string }> };
}

/** A client certificate from the control plane's CA (the API server's --client-ca-file). */
function clientCertificate(username: string, groups: string[]): { certPem: string; keyPem: string } {
  const dir = process.env.DETOUR_TEST_CONTROL_PLANE_DIR!;
  const caCert = forge.pki.certificateFromPem(readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8'));
  const caKey = forge.pki.privateKeyFromPem(readFileSync(join(dir, 'pki', 'ca.key'), 'utf8'));
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = Date.now().toString(16);
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: username }, ...groups.map((g) => ({ name: 'organizationName', value: g }))]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, keyEncipherment: true }, { name: 'extKeyUsage', clientAuth: true }]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

function identity(name: string, user: Record<string, string>): Identity {
  const cluster = kc.getCurrentCluster()!;
  const kubeconfig = join(work, `${name}.kubeconfig`);
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': name,
    clusters: [{ name: 'local', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } }],
    users: [{ name, user }], contexts: [{ name, context: { cluster: 'local', user: name, namespace: ns } }],
  }), { mode: 0o600 });
  const k = new KubeConfig();
  k.loadFromFile(kubeconfig);
  return { name, kubeconfig, api: buildKubeClient(k) };
}

function certIdentity(name: string, groups: string[]): Identity {
  const { certPem, keyPem } = clientCertificate(name, groups);
  return identity(name, { 'client-certificate-data': Buffer.from(certPem).toString('base64'), 'client-key-data': Buffer.from(keyPem).toString('base64') });
}

/** The HTTP status and Status message of a request (2xx: 200). */
async function attempt(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
    return { code: 200, message: '' };
  } catch (err) {
    const e = err as { code?: unknown; body?: string };
    if (typeof e.code !== 'number') throw err;
    let message = '';
    try { message = (JSON.parse(e.body ?? '{}') as { message?: string }).message ?? ''; } catch { /* not a Status */ }
    return { code: e.code, message };
  }
}

const interceptBody = (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) => ({
  apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept', metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) },
  spec: { workload: { kind: 'Deployment', name: 'checkout' }, ...spec },
});
const personal = (user: string) => ({ headers: [{ name: 'x-detour-user', exact: user }] });
const create = (who: Identity, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>, dryRun = true) =>
  who.api.request<InterceptJson>('POST', INTERCEPTS(ns), { query: { fieldValidation: 'Strict', ...(dryRun ? { dryRun: 'All' } : {}) }, body: interceptBody(name, spec, annotations) });
const getIntercept = (name: string) => admin.request<InterceptJson>('GET', INTERCEPTS(ns, name));

async function applyCrds(): Promise<void> {
  for (const plural of ['intercepts', 'interceptpolicies', 'clusterinterceptpolicies']) {
    const crd = parse(readFileSync(join(REPO_ROOT, 'crds', `${plural}.detour.dev.yaml`), 'utf8')) as { metadata: { name: string } };
    const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions`;
    const existing = await admin.request<{ metadata: { resourceVersion: string } }>('GET', `${path}/${crd.metadata.name}`).catch(() => undefined);
    if (existing) await admin.request('PUT', `${path}/${crd.metadata.name}`, { body: { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata.resourceVersion } } });
    else await admin.request('POST', path, { body: crd });
    await eventually(`${plural} to be served`, () => admin.request('GET', `/apis/detour.dev/v1alpha1/${plural}`).then(() => true));
  }
}

async function createEcho(name: string, labels: Record<string, string>): Promise<void> {
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name, labels },
      spec: {
        replicas: 1, selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name, 'detour.dev/inject': 'true' } },
          spec: { containers: [{ name, image: 'detour/echo', env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], ports: [{ name: 'http', containerPort: 8080 }] }], terminationGracePeriodSeconds: 1 },
        },
      },
    },
  });
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } } });
}

beforeAll(async () => {
  kubectl = (await ensureControlPlaneBinaries(process.env.KUBEBUILDER_ASSETS, () => {})).kubectl;
  await applyCrds();
  detour = await installDetour(kc, { values: { operator: { replicas: 1 } } });
  ns = await createNamespace(kc, 'policy');
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
  await createEcho('checkout', { team: 'shop' });
  await createEcho('payments', { team: 'money' });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'db-password' }, stringData: { password: 's3cret' } } });

  alice = certIdentity('alice', ['developers']);
  bob = certIdentity('bob', ['developers']);
  mallory = certIdentity('mallory', []);
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'gitops' } } });
  const token = (await core.createNamespacedServiceAccountToken({ name: 'gitops', namespace: ns, body: { spec: { audiences: [], expirationSeconds: 3600 } } })).status!.token;
  gitops = identity('gitops', { token: token! });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'developers' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${fullname(detour.releaseName)}-developer` },
      subjects: [
        ...['alice', 'bob', 'mallory'].map((name) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name })),
        { kind: 'ServiceAccount', name: 'gitops', namespace: ns },
      ],
    },
  });

  await waitForReadyPods(kc, ns, 'app=checkout', 1, 120_000);
  await waitForReadyPods(kc, ns, 'app=payments', 1, 120_000);
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'client' }, spec: { containers: [{ name: 'client', image: 'detour/shell', command: ['sleep', '3600'] }], terminationGracePeriodSeconds: 1 } } });
  client = await eventually('the client pod', async () => {
    const p = await core.readNamespacedPod({ name: 'client', namespace: ns });
    return isReady(p) ? p : undefined;
  });
  laptop = await startLocalServer('laptop');
}, 400_000);

afterAll(async () => {
  for (const p of running) p.kill('SIGKILL');
  await laptop?.close();
  await admin.request('DELETE', CLUSTER_POLICIES(`gitops-${ns}`)).catch(() => undefined);
  if (ns) await deleteNamespace(kc, ns);
  await detour?.uninstall();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('identity at admission', () => {
  it('records the creator from the client certificate, ignoring a forged stamp, and defaults spec.owner', async () => {
    const forged = { [CREATOR_ANNOTATION]: formatCreator({ username: 'bob', groups: ['system:masters'] }) };
    const created = await create(alice, 'alice-stamp', { match: personal('alice') }, forged, false);
    expect(readCreator(created.metadata.annotations)).toEqual({ username: 'alice', groups: ['developers', 'system:authenticated'] });
    expect(created.spec.owner).toBe('alice');
  });

  it('refuses a change of the stamp on update, by its creator or anyone', async () => {
    const live = await getIntercept('alice-stamp');
    const changed = { ...live, metadata: { ...live.metadata, annotations: { ...live.metadata.annotations, [CREATOR_ANNOTATION]: formatCreator({ username: 'mallory', groups: [] }) } } };
    const r = await attempt(alice.api.request('PUT', INTERCEPTS(ns, 'alice-stamp'), { body: changed }));
    expect(r.code).toBe(403);
    expect(r.message).toMatch(/admission webhook "intercepts\.detour\.dev" denied the request: Intercept .*\/alice-stamp: the annotation detour\.dev\/creator is recorded by admission .* cannot be changed/);
    // An unchanged stamp with another change is fine (read again: the operator writes finalizers and status meanwhile).
    await eventually('an update that keeps the stamp to be accepted', async () => {
      const now = await getIntercept('alice-stamp');
      const r2 = await attempt(alice.api.request('PUT', INTERCEPTS(ns, 'alice-stamp'), { body: { ...now, spec: { ...now.spec, ttl: '2h' } } }));
      if (r2.code === 409) return undefined;
      expect(r2.code).toBe(200);
      return true;
    }, 30_000, 200);
    expect((await getIntercept('alice-stamp')).spec.ttl).toBe('2h');
    expect(readCreator((await getIntercept('alice-stamp')).metadata.annotations)?.username).toBe('alice');
  });

  it('a GitOps server-side apply records the service account, cannot forge the stamp, and re-applying without it keeps it', async () => {
    const ssa = (annotations?: Record<string, string>) => gitops.api.request<InterceptJson>('PATCH', INTERCEPTS(ns, 'team-checkout'), {
      contentType: 'application/apply-patch+yaml', query: { fieldManager: 'argocd', force: true },
      body: interceptBody('team-checkout', { match: personal('team'), connectors: [{ kind: 'User', name: 'alice' }] }, annotations),
    });
    const first = await ssa({ [CREATOR_ANNOTATION]: formatCreator({ username: 'alice', groups: [] }) });
    expect(readCreator(first.metadata.annotations)?.username).toBe(`system:serviceaccount:${ns}:gitops`);
    const forged = await attempt(ssa({ [CREATOR_ANNOTATION]: formatCreator({ username: 'alice', groups: [] }) }));
    expect(forged.code).toBe(403);
    expect(forged.message).toMatch(/detour\.dev\/creator is recorded by admission/);
    const again = await ssa();
    expect(readCreator(again.metadata.annotations)?.username).toBe(`system:serviceaccount:${ns}:gitops`);
  });
});

describe('InterceptPolicy rules, each refused with the policy and rule named and one allowed', () => {
  beforeAll(async () => {
    await admin.request('DELETE', INTERCEPTS(ns, 'alice-stamp'));
    await admin.request('POST', POLICIES(ns), {
      body: {
        apiVersion: 'detour.dev/v1alpha1', kind: 'InterceptPolicy', metadata: { name: 'devs', namespace: ns },
        spec: {
          workloads: { names: ['check*'] }, subjects: { groups: ['developers'] }, modes: ['Steal'],
          requiredHeaders: [{ name: 'x-detour-user', valueEqualsCreator: true }], maxTtl: '8h', defaultTtl: '1h',
        },
      },
    });
    await admin.request('POST', CLUSTER_POLICIES(), {
      body: {
        apiVersion: 'detour.dev/v1alpha1', kind: 'ClusterInterceptPolicy', metadata: { name: `gitops-${ns}` },
        spec: {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } }, workloads: { selector: { matchLabels: { team: 'shop' } } },
          subjects: { serviceAccounts: [{ namespace: ns, name: 'gitops' }] }, modes: ['Steal', 'Mirror', 'Outbound'], allowConnectors: true, outbound: { allowed: false },
        },
      },
    });
  });

  const cases: Array<[string, () => Identity, Record<string, unknown>, string | undefined]> = [
    ['subjects: mallory is in no subject list', () => mallory, { match: personal('mallory') }, `InterceptPolicy NS/devs \\(rule subjects\\)`],
    ['modes: Mirror is not allowed', () => alice, { match: personal('alice'), mode: 'Mirror' }, 'InterceptPolicy NS/devs \\(rule modes\\): mode Mirror is not allowed \\(allowed: Steal\\)'],
    ['allowGlobal: no match', () => alice, {}, 'InterceptPolicy NS/devs \\(rule allowGlobal\\)'],
    ['requiredHeaders: alice routing bob\'s requests', () => alice, { match: personal('bob') }, 'InterceptPolicy NS/devs \\(rule requiredHeaders\\[0\\]\\): the intercept must match header x-detour-user with exact value "alice"'],
    ['maxTtl: 9h', () => alice, { match: personal('alice'), ttl: '9h' }, 'InterceptPolicy NS/devs \\(rule maxTtl\\): ttl 9h is longer than the maximum 8h'],
    ['allowConnectors: alice may not name bob', () => alice, { match: personal('alice'), connectors: [{ kind: 'User', name: 'bob' }] }, 'InterceptPolicy NS/devs \\(rule allowConnectors\\)'],
    ['outbound.allowed: GitOps may not use Outbound', () => gitops, { mode: 'Outbound' }, `ClusterInterceptPolicy gitops-NS \\(rule outbound.allowed\\)`],
    ['allowed: alice, her own header, Steal, within the ttl', () => alice, { match: personal('alice'), ttl: '2h' }, undefined],
    ['allowed: GitOps Mirror naming alice as a connector (the cluster policy, by labels and namespace)', () => gitops, { match: personal('team'), mode: 'Mirror', connectors: [{ kind: 'User', name: 'alice' }] }, undefined],
  ];
  it.each(cases)('%s', async (_n, who, spec, refusal) => {
    const r = await attempt(create(who(), 'probe', spec));
    if (refusal === undefined) {
      expect(r).toEqual({ code: 200, message: '' });
    } else {
      expect(r.code).toBe(403);
      expect(r.message).toMatch(new RegExp(`^admission webhook "intercepts\\.detour\\.dev" denied the request: Intercept ${ns}/probe: denied by ${refusal.replace(/NS/g, ns)}`));
    }
  });

  it('kubectl apply --dry-run=server shows the refusal; detour policy check says what would be allowed', async () => {
    const file = join(work, 'mirror.yaml');
    writeFileSync(file, JSON.stringify(interceptBody('alice-mirror', { match: personal('alice'), mode: 'Mirror' })));
    const refused = await run(kubectl, ['--kubeconfig', alice.kubeconfig, 'apply', '--dry-run=server', '-f', file]).then(() => '', (e: { stderr: string }) => e.stderr);
    expect(refused).toMatch(new RegExp(`admission webhook "intercepts.detour.dev" denied the request: Intercept ${ns}/alice-mirror: denied by InterceptPolicy ${ns}/devs \\(rule modes\\)`));

    const allowed = await runCli(['policy', 'check', 'checkout', '--header', 'x-detour-user=alice'], { KUBECONFIG: alice.kubeconfig });
    expect(allowed).toEqual({ code: 0, output: expect.stringMatching(new RegExp(`Allowed by InterceptPolicy ${ns}/devs: Deployment/checkout, x-detour-user=alice, mode Steal\\n +ttl 1h \\(the policy's default\\)`)) });
    const no = await runCli(['policy', 'check', 'checkout', '--header', 'x-detour-user=bob'], { KUBECONFIG: alice.kubeconfig });
    expect(no.code).toBe(1);
    expect(no.output).toMatch(/Refused: admission webhook "intercepts\.detour\.dev" denied the request: .*rule requiredHeaders\[0\]/);
    // detour intercept prints the same refusal as is, and creates nothing.
    const intercept = await runCli(['intercept', 'checkout', '--header', 'x-detour-user=bob', '--to', 'localhost:1'], { KUBECONFIG: alice.kubeconfig });
    expect(intercept.code).toBe(1);
    expect(intercept.output).toMatch(/admission webhook "intercepts\.detour\.dev" denied the request: .*denied by InterceptPolicy .*\/devs \(rule requiredHeaders\[0\]\)/);
    expect(intercept.output).not.toMatch(/you are not allowed/);
  });
});

describe('access to an Intercept without namespace-wide Secret reads', () => {
  it('the chart\'s developer role has no get secrets', async () => {
    const role = await rbac.readClusterRole({ name: `${fullname(detour.releaseName)}-developer` });
    expect(role.rules!.some((r) => r.resources?.includes('secrets'))).toBe(false);
  });

  it('alice reads her own token and the one a GitOps Intercept names her for; not bob\'s, nor another Secret', async () => {
    await create(alice, 'alice-checkout', { match: personal('alice') }, undefined, false);
    await create(bob, 'bob-checkout', { match: personal('bob') }, undefined, false);
    const secret = (who: Identity, name: string) => attempt(who.api.request('GET', resourcePath('', 'v1', 'secrets', ns, name)));
    await eventually('alice to be able to read her token', async () => ((await secret(alice, 'alice-checkout-detour-token')).code === 200 ? true : undefined), 60_000, 500);
    await eventually('alice to be able to read the team token (connector)', async () => ((await secret(alice, 'team-checkout-detour-token')).code === 200 ? true : undefined), 60_000, 500);
    await eventually('bob to be able to read his token', async () => ((await secret(bob, 'bob-checkout-detour-token')).code === 200 ? true : undefined), 60_000, 500);
    expect((await secret(alice, 'bob-checkout-detour-token')).code).toBe(403);
    expect((await secret(bob, 'alice-checkout-detour-token')).code).toBe(403);
    expect((await secret(bob, 'team-checkout-detour-token')).code).toBe(403);
    expect((await secret(alice, 'db-password')).code).toBe(403);
    expect((await attempt(alice.api.request('GET', resourcePath('', 'v1', 'secrets', ns)))).code).toBe(403);
  });

  it('alice cannot connect to bob\'s Intercept: refused, and not one of bob\'s requests reaches her', async () => {
    await eventually('bob-checkout to be Active', async () => ((await getIntercept('bob-checkout')).status?.phase === 'Active' ? true : undefined), 120_000, 500);
    const r = await runCli(['connect', 'bob-checkout', '--to', `localhost:${laptop.port}`], { KUBECONFIG: alice.kubeconfig });
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/not allowed to get secrets "bob-checkout-detour-token"/);
    for (let n = 0; n < 3; n++) expect((await fetchInPod('http://checkout/bob', { 'x-detour-user': 'bob' })).body).not.toMatch(/^laptop/);
    expect(laptop.received).toEqual([]);
  });

  it('detour list and status show the creator and the allowing policy', async () => {
    await eventually('the operator to record the allowing policy', async () => ((await getIntercept('alice-checkout')).status?.allowedBy ? true : undefined), 60_000, 500);
    const list = await runCli(['list'], { KUBECONFIG: alice.kubeconfig });
    expect(list.output).toMatch(new RegExp(`alice-checkout .* alice +InterceptPolicy ${ns}/devs `));
    expect(list.output).toMatch(new RegExp(`team-checkout .* system:serviceaccount:${ns}:gitops +ClusterInterceptPolicy gitops-${ns} `));
    const status = await runCli(['status', 'alice-checkout'], { KUBECONFIG: alice.kubeconfig });
    expect(status.output).toMatch(/Creator: +alice \(groups developers, system:authenticated\)/);
    expect(status.output).toMatch(new RegExp(`Policy: +InterceptPolicy ${ns}/devs`));
  });
});

describe('a policy that changes after an Intercept exists', () => {
  let cli: CliProcess;
  const fromLaptop = async (path: string) => (await fetchInPod(`http://payments${path}`, { 'x-detour-user': 'alice' })).body.startsWith('laptop:');

  it('no policy selects payments: alice intercepts it and her requests reach her', async () => {
    cli = startCli(['intercept', 'payments', '--header', 'x-detour-user=alice', '--to', `localhost:${laptop.port}`], { KUBECONFIG: alice.kubeconfig });
    running.push(cli);
    await cli.waitFor(/Serving 1\/1 replica /, 180_000);
    await eventually('a request to reach the laptop', async () => ((await fromLaptop('/before')) ? true : undefined), 30_000, 500);
  }, 240_000);

  it('a policy that does not allow it stops its routing at once: PolicyDenied, an Event, requests fall back to the app', async () => {
    await admin.request('POST', POLICIES(ns), {
      body: { apiVersion: 'detour.dev/v1alpha1', kind: 'InterceptPolicy', metadata: { name: 'payments-lockdown', namespace: ns }, spec: { workloads: { names: ['payments'] }, subjects: { users: ['bob'] } } },
    });
    const denied = await eventually('alice-payments to be denied', async () => {
      const i = await getIntercept('alice-payments');
      const routed = i.status?.conditions?.find((c) => c.type === 'Routed');
      return routed?.reason === 'PolicyDenied' ? { i, routed } : undefined;
    }, 60_000, 300);
    expect(denied.routed.status).toBe('False');
    expect(denied.routed.message).toMatch(new RegExp(`denied by InterceptPolicy ${ns}/payments-lockdown \\(rule subjects\\)`));
    expect(denied.i.status?.phase).toBe('Failed');
    await eventually('requests to fall back to the app', async () => (!(await fromLaptop('/during')) ? true : undefined), 30_000, 300);
    const body = (await fetchInPod('http://payments/during', { 'x-detour-user': 'alice' })).body;
    expect((JSON.parse(body) as { pod: string }).pod).toMatch(/^payments-/);
    const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=alice-payments' });
    expect(events.items.some((e) => e.reason === 'PolicyDenied' && e.type === 'Warning' && /payments-lockdown/.test(e.message ?? ''))).toBe(true);
  });

  it('deleting the policy restores it', async () => {
    await admin.request('DELETE', POLICIES(ns, 'payments-lockdown'));
    await eventually('alice-payments to route again', async () => ((await getIntercept('alice-payments')).status?.phase === 'Active' ? true : undefined), 60_000, 300);
    await eventually('a request to reach the laptop again', async () => ((await fromLaptop('/after')) ? true : undefined), 30_000, 300);
    cli.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
  });
});

/** A GET from inside the client pod (Node's fetch in the pod's network namespace and DNS). */
async function fetchInPod(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const script = `fetch(${JSON.stringify(url)}, { headers: ${JSON.stringify(headers)}, signal: AbortSignal.timeout(5000) }).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), (e) => { console.log(JSON.stringify({ status: 0, body: String(e.cause?.code ?? e) })); })`;
  return JSON.parse((await execInPod(client, [process.execPath, '-e', script])).trim()) as { status: number; body: string };
}
