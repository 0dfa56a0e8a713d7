import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, DiscoveryV1Api, RbacAuthorizationV1Api, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { buildCertificateAuthority, buildLeafCertificate } from '../../core/tls/certificates.js';
import { listNetns } from '../../cluster/node/network.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { execInPod, fetchFromPod, isReady, podNetns, waitForReadyPods } from '../../cluster/pods.js';

const run = promisify(execFile);

/** True while the process exists and has not exited (zombies have exited). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const repoRoot = join(import.meta.dirname, '..', '..');

if (!existsSync(join(repoRoot, 'dist', 'test', 'fixtures', 'echo-main.js'))) {
  throw new Error('the test node runs the built fixtures: run `npm run build` first (npm test does)');
}

let ns: string;
beforeAll(async () => {
  ns = await createNamespace(kc, 'node');
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
});
afterAll(() => deleteNamespace(kc, ns));

const echoDeployment = (name: string, replicas: number, extra: Partial<NonNullable<V1Deployment['spec']>['template']['spec']> = {}): V1Deployment => ({
  metadata: { name },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [{
          name: 'echo',
          image: 'detour/echo',
          env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'HOST', value: '0.0.0.0' }],
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
        }],
        terminationGracePeriodSeconds: 2,
        ...extra,
      },
    },
  },
});

async function getJson(url: string): Promise<{ pod: string; path: string; headers: Record<string, string> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  return (await res.json()) as { pod: string; path: string; headers: Record<string, string> };
}

describe('the test node runs pods', () => {
  let pods: V1Pod[];

  it('runs a 2-replica Deployment of detour/echo: Running, Ready, each answering on its own pod IP', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: echoDeployment('echo', 2) });
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'echo' }, spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } } });
    pods = await waitForReadyPods(kc, ns, 'app=echo', 2);
    expect(pods.map((p) => p.status?.phase)).toEqual(['Running', 'Running']);
    const ips = pods.map((p) => p.status!.podIP!);
    expect(new Set(ips).size).toBe(2);
    for (const pod of pods) {
      const answer = await getJson(`http://${pod.status!.podIP}:8080/hello`);
      expect(answer.pod).toBe(pod.metadata!.name);
      expect(answer.path).toBe('/hello');
    }
    // Every pod has a network namespace of its own.
    const netns = await listNetns();
    for (const pod of pods) expect(netns).toContain(podNetns(pod));
  });

  it('reaches Services by DNS name from inside a pod, spread over the ready replicas', async () => {
    const [client] = pods;
    // kube-proxy programs a new Service's endpoints within a moment, as in any cluster.
    await eventually('the Service to answer from inside a pod', async () => ((await fetchFromPod(client!, `http://echo.${ns}.svc.cluster.local/`)).status === 200 ? true : undefined));
    const seen = new Set<string>();
    for (let i = 0; i < 20 && seen.size < 2; i++) {
      const full = await fetchFromPod(client!, `http://echo.${ns}.svc.cluster.local/`);
      expect(full).toMatchObject({ status: 200 });
      seen.add((JSON.parse(full.body) as { pod: string }).pod);
      const short = await fetchFromPod(client!, `http://echo.${ns}/`);
      expect(short.status).toBe(200);
      seen.add((JSON.parse(short.body) as { pod: string }).pod);
    }
    expect([...seen].sort()).toEqual(pods.map((p) => p.metadata!.name!).sort());
    // A name that does not exist does not resolve (and nothing is forwarded outside).
    const missing = await fetchFromPod(client!, `http://nope.${ns}.svc.cluster.local/`);
    expect(missing.status).toBe(0);
    expect(missing.body).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });

  it('reaches a pod through the API server pod proxy subresource, WebSocket upgrade included', async () => {
    const pod = pods[0]!;
    const cluster = kc.getCurrentCluster()!;
    const user = kc.getCurrentUser()!;
    const ca = Buffer.from(cluster.caData!, 'base64').toString();
    const base = `${cluster.server}/api/v1/namespaces/${ns}/pods/${pod.metadata!.name}:8080/proxy`;
    const body = await new Promise<string>((resolve, reject) => {
      request(`${base}/via-proxy`, { ca, headers: { authorization: `Bearer ${user.token}` } }, (res) => {
        let data = '';
        res.on('data', (d: Buffer) => (data += d.toString()));
        res.on('end', () => resolve(data));
      }).on('error', reject).end();
    });
    expect(JSON.parse(body)).toMatchObject({ pod: pod.metadata!.name, path: '/via-proxy' });

    const ws = new WebSocket(`${base.replace('https:', 'wss:')}/ws`, { ca, headers: { authorization: `Bearer ${user.token}` } });
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hello through the API server'));
      ws.on('message', (m) => resolve(m.toString()));
      ws.on('error', reject);
    });
    ws.close();
    expect(echoed).toBe('hello through the API server');
  });

  it('scales to 3 and back to 2', async () => {
    await apps.patchNamespacedDeploymentScale({ name: 'echo', namespace: ns, body: { spec: { replicas: 3 } } }, (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/merge-patch+json'));
    const three = await waitForReadyPods(kc, ns, 'app=echo', 3);
    for (const pod of three) expect((await getJson(`http://${pod.status!.podIP}:8080/`)).pod).toBe(pod.metadata!.name);
    await apps.patchNamespacedDeploymentScale({ name: 'echo', namespace: ns, body: { spec: { replicas: 2 } } }, (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/merge-patch+json'));
    const two = await waitForReadyPods(kc, ns, 'app=echo', 2);
    const gone = three.find((p) => !two.some((q) => q.metadata!.uid === p.metadata!.uid))!;
    await eventually('the removed pod\'s namespace to disappear', async () => ((await listNetns()).includes(podNetns(gone)) ? undefined : true));
    pods = two;
  });

  it('a failing readiness probe makes the pod NotReady and takes it out of the Service endpoints', async () => {
    const flag = `/tmp/detour-ready-${ns}`;
    writeFileSync(flag, 'ok');
    try {
      // Readiness is an exec probe on a file the test controls.
      const flaky = echoDeployment('flaky', 1);
      flaky.spec!.template.spec!.containers[0]!.readinessProbe = { exec: { command: ['test', '-f', flag] }, periodSeconds: 1, failureThreshold: 1 };
      await apps.createNamespacedDeployment({ namespace: ns, body: flaky });
      await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'flaky' }, spec: { selector: { app: 'flaky' }, ports: [{ port: 80, targetPort: 'http' }] } } });
      const [pod] = await waitForReadyPods(kc, ns, 'app=flaky', 1);
      const discovery = kc.makeApiClient(DiscoveryV1Api);
      const endpointReady = async () => {
        const slices = await discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: 'kubernetes.io/service-name=flaky' });
        return slices.items.flatMap((s) => s.endpoints ?? []).find((e) => e.addresses.includes(pod!.status!.podIP!))?.conditions?.ready;
      };
      await eventually('the pod to be a ready endpoint', async () => ((await endpointReady()) === true ? true : undefined));
      rmSync(flag);
      await eventually('the pod to turn NotReady', async () => (isReady(await core.readNamespacedPod({ name: pod!.metadata!.name!, namespace: ns })) ? undefined : true));
      await eventually('the endpoint to be not ready', async () => ((await endpointReady()) !== true ? true : undefined));
    } finally {
      rmSync(flag, { force: true });
    }
  });

  it('deleting the Deployment stops its processes and removes their namespaces', async () => {
    const before = pods.map((p) => podNetns(p));
    const pids = (await Promise.all(before.map((n) => run('ip', ['netns', 'pids', n]).then((r) => r.stdout.trim().split('\n').map(Number))))).flat();
    expect(pids.length).toBeGreaterThan(0);
    await apps.deleteNamespacedDeployment({ name: 'echo', namespace: ns });
    await eventually('the pods to be gone', async () => ((await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=echo' })).items.length === 0 ? true : undefined));
    await eventually('their namespaces to be removed', async () => {
      const netns = await listNetns();
      return before.every((n) => !netns.includes(n)) ? true : undefined;
    });
    expect(pids.filter(isRunning)).toEqual([]);
  });
});

describe('pods as API clients and servers', () => {
  it('a container authenticates to the API server with its projected service-account token', async () => {
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'lister' } } });
    await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: 'lister' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } });
    await rbac.createNamespacedRoleBinding({ namespace: ns, body: { metadata: { name: 'lister' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'lister' }, subjects: [{ kind: 'ServiceAccount', name: 'lister', namespace: ns }] } });
    // Exits 0 only if the token lists pods (granted) and is refused secrets (not granted): it is the ServiceAccount's identity.
    const script = [
      "const fs = require('fs');",
      "const t = fs.readFileSync('/var/run/secrets/tokens/api-token', 'utf8');",
      "const base = 'https://' + process.env.KUBERNETES_SERVICE_HOST + ':' + process.env.KUBERNETES_SERVICE_PORT;",
      'const get = (p) => fetch(base + p, { headers: { authorization: "Bearer " + t } }).then((r) => r.status);',
      "Promise.all([get('/api/v1/namespaces/' + process.env.NS + '/pods'), get('/api/v1/namespaces/' + process.env.NS + '/secrets')])",
      '  .then(([pods, secrets]) => { console.log(pods, secrets); process.exit(pods === 200 && secrets === 403 ? 0 : 1); }, (e) => { console.error(e); process.exit(2); });',
    ].join('\n');
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'token-user' },
        spec: {
          serviceAccountName: 'lister',
          restartPolicy: 'Never',
          containers: [{
            name: 'client',
            image: 'detour/shell',
            command: ['node', '-e', script],
            env: [{ name: 'NS', value: ns }, { name: 'NODE_EXTRA_CA_CERTS', value: '/var/run/secrets/tokens/ca.crt' }],
            volumeMounts: [{ name: 'api', mountPath: '/var/run/secrets/tokens', readOnly: true }],
          }],
          volumes: [{ name: 'api', projected: { sources: [
            { serviceAccountToken: { path: 'api-token', expirationSeconds: 3600 } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          ] } }],
        },
      },
    });
    const phase = await eventually('the client pod to finish', async () => {
      const p = await core.readNamespacedPod({ name: 'token-user', namespace: ns });
      return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p.status.phase : undefined;
    });
    expect(phase).toBe('Succeeded');
  });

  it('the API server calls a webhook served by a pod behind a Service (clientConfig.service)', async () => {
    const ca = buildCertificateAuthority({ commonName: 'node-test-ca', now: new Date() });
    const cert = buildLeafCertificate({ ca, commonName: `hook.${ns}.svc`, dnsNames: [`hook.${ns}.svc`], now: new Date() });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'hook-tls' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': cert.certPem, 'tls.key': cert.keyPem } } });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'hook' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'hook' } },
          template: {
            metadata: { labels: { app: 'hook' } },
            spec: {
              containers: [{
                name: 'hook', image: 'detour/test-webhook',
                env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'TLS_CERT_FILE', value: '/tls/tls.crt' }, { name: 'TLS_KEY_FILE', value: '/tls/tls.key' }],
                ports: [{ name: 'https', containerPort: 8443 }],
                readinessProbe: { tcpSocket: { port: 'https' }, periodSeconds: 1 },
                volumeMounts: [{ name: 'tls', mountPath: '/tls' }],
              }],
              volumes: [{ name: 'tls', secret: { secretName: 'hook-tls' } }],
            },
          },
        },
      },
    });
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'hook' }, spec: { selector: { app: 'hook' }, ports: [{ port: 443, targetPort: 'https' }] } } });
    const [hookPod] = await waitForReadyPods(kc, ns, 'app=hook', 1);
    const target = await createNamespace(kc, 'hooked');
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const name = `node-test-${ns}`;
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name },
        webhooks: [{
          name: 'mutate.node-test.detour.dev',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          clientConfig: { service: { namespace: ns, name: 'hook', path: '/mutate', port: 443 }, caBundle: Buffer.from(ca.certPem).toString('base64') },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': target } },
        }],
      },
    });
    try {
      const mutatedBy = await eventually('the webhook pod to annotate a new ConfigMap', async () => {
        const cm = await core.createNamespacedConfigMap({ namespace: target, body: { metadata: { generateName: 'cm-' }, data: { a: 'b' } } });
        return cm.metadata?.annotations?.['test.detour.dev/mutated-by'];
      });
      expect(mutatedBy).toBe(hookPod!.metadata!.name);
    } finally {
      await admission.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
      await deleteNamespace(kc, target);
    }
  });

  it('gives the containers of a pod one localhost: container a reaches container b on 127.0.0.1', async () => {
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'two-containers' },
        spec: {
          containers: [
            { name: 'a', image: 'detour/echo', env: [{ name: 'PORT', value: '8080' }, { name: 'HOST', value: '0.0.0.0' }, { name: 'POD_NAME', value: 'a' }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } },
            { name: 'b', image: 'detour/echo', env: [{ name: 'PORT', value: '9090' }, { name: 'HOST', value: '0.0.0.0' }, { name: 'POD_NAME', value: 'b' }], readinessProbe: { tcpSocket: { port: 9090 }, periodSeconds: 1 } },
          ],
        },
      },
    });
    const pod = await eventually('the two-container pod to be ready', async () => {
      const p = await core.readNamespacedPod({ name: 'two-containers', namespace: ns });
      return isReady(p) ? p : undefined;
    });
    // Container a reaches container b over the pod's own localhost.
    const out = await execInPod(pod, [process.execPath, '-e', "fetch('http://127.0.0.1:9090/x').then((r) => r.json()).then((j) => console.log(j.pod))"]);
    expect(out.trim()).toBe('b');
  });

  it('an image not in the map leaves the pod not running, with a reason that names the image', async () => {
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'unknown-image' }, spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } } });
    const waiting = await eventually('the container status to explain', async () => {
      const p = await core.readNamespacedPod({ name: 'unknown-image', namespace: ns });
      const w = p.status?.containerStatuses?.[0]?.state?.waiting;
      return w?.reason === 'ErrImagePull' ? w : undefined;
    });
    expect(waiting.reason).toBe('ErrImagePull');
    expect(waiting.message).toMatch(/image nginx:1.27 is not in the test node's image map/);
  });
});

describe('pod termination', () => {
  it('removes the pod object only after its containers are gone (SIGTERM ignored → SIGKILL after the grace period)', async () => {
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'stubborn' },
        spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'c', image: 'detour/shell', command: ['sh', '-c', "trap '' TERM; sleep 3600"] }] },
      },
    });
    const pod = await eventually('the stubborn pod to run', async () => {
      const p = await core.readNamespacedPod({ name: 'stubborn', namespace: ns });
      return p.status?.phase === 'Running' ? p : undefined;
    });
    const pids = (await run('ip', ['netns', 'pids', podNetns(pod)])).stdout.trim().split('\n').map(Number).filter((n) => n > 0);
    expect(pids.length).toBeGreaterThan(0);
    await core.deleteNamespacedPod({ name: 'stubborn', namespace: ns });
    await eventually('the pod object to be gone', () => core.readNamespacedPod({ name: 'stubborn', namespace: ns }).then(() => undefined, () => true), 30_000, 50);
    // The moment the object is gone, nothing of the pod may still run (a killed grandchild may linger
    // as a zombie until pid 1 reaps it: that is exited, not running).
    expect(pids.filter(isRunning)).toEqual([]);
  });
});
