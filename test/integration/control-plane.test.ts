import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { AppsV1Api, CoreV1Api, AdmissionregistrationV1Api, ApiextensionsV1Api, PatchStrategy, RbacAuthorizationV1Api, KubeConfig, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { buildCertificateAuthority, buildLeafCertificate } from '../../core/tls/certificates.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';

const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);

let ns: string;
beforeAll(async () => {
  ns = await createNamespace(kc, 'cp');
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
});
afterAll(() => deleteNamespace(kc, ns));

const podTemplate = (app: string) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: 'app', image: 'detour/echo', ports: [{ name: 'http', containerPort: 8080 }] }] },
});

describe('the local control plane', () => {
  it('serves CRDs: a CustomResourceDefinition becomes Established and its objects can be stored', async () => {
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const group = `${ns}.example.dev`;
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } } }],
        },
      },
    });
    await eventually('the CRD to be Established', async () => {
      const crd = await ext.readCustomResourceDefinition({ name: `widgets.${group}` });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    });
    const { KubernetesObjectApi } = await import('@kubernetes/client-node');
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const stored = await eventually('a Widget to be stored', () =>
      objects.create({ apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w1', namespace: ns }, spec: { size: 3 } } as never),
    );
    expect((stored as { spec?: { size?: number } }).spec?.size).toBe(3);
    await ext.deleteCustomResourceDefinition({ name: `widgets.${group}` });
  });

  it('enforces RBAC: a ServiceAccount can do what its Role grants and nothing else', async () => {
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'reader' } } });
    await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: { metadata: { name: 'reader' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' }, subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }] },
    });
    const token = await core.createNamespacedServiceAccountToken({ name: 'reader', namespace: ns, body: { spec: { audiences: [], expirationSeconds: 600 } } });
    const readerKc = new KubeConfig();
    readerKc.loadFromClusterAndUser(
      { name: 'c', server: kc.getCurrentCluster()!.server, caData: kc.getCurrentCluster()!.caData, skipTLSVerify: false },
      { name: 'reader', token: token.status!.token },
    );
    const readerCore = readerKc.makeApiClient(CoreV1Api);
    await expect(readerCore.listNamespacedPod({ namespace: ns })).resolves.toBeDefined();
    await expect(readerCore.listNamespacedSecret({ namespace: ns })).rejects.toMatchObject({ code: 403 });
  });

  it('turns a Deployment into a ReplicaSet and Pods, and the scheduler binds them to a Ready Node', async () => {
    const nodeName = `node-${ns}`;
    await core.createNode({ body: { metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName } } } });
    try {
      await core.patchNodeStatus({
        name: nodeName,
        body: {
          status: {
            conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'test node', lastHeartbeatTime: new Date(), lastTransitionTime: new Date() }],
            capacity: { cpu: '4', memory: '8Gi', pods: '110' },
            allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
          },
        },
      }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: { metadata: { name: 'web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { ...podTemplate('web'), spec: { ...podTemplate('web').spec, nodeSelector: { 'kubernetes.io/hostname': nodeName } } } } },
      });
      const rs = await eventually('a ReplicaSet owned by the Deployment', async () => {
        const list = await apps.listNamespacedReplicaSet({ namespace: ns });
        return list.items.find((r) => r.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === 'web'));
      });
      const pods = await eventually('2 pods bound to the node', async () => {
        const list = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
        return list.items.length === 2 && list.items.every((p) => p.spec?.nodeName === nodeName) ? list.items : undefined;
      });
      expect(pods.every((p) => p.metadata?.ownerReferences?.[0]?.name === rs.metadata?.name)).toBe(true);
    } finally {
      await core.deleteNode({ name: nodeName });
    }
  });
});

describe('admission webhooks registered by URL', () => {
  let server: Server;
  let calls = 0;
  const hookName = () => `cp-test-${ns}`;

  beforeAll(async () => {
    const ca = buildCertificateAuthority({ commonName: 'cp-test-ca', now: new Date() });
    const cert = buildLeafCertificate({ ca, commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'], now: new Date() });
    server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        calls++;
        const review = JSON.parse(body) as { request: { uid: string } };
        const patch = [{ op: 'add', path: '/metadata/annotations', value: { 'cp-test/mutated': 'yes' } }];
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') },
        }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
      body: {
        metadata: { name: hookName() },
        webhooks: [{
          name: 'mutate.cp-test.detour.dev',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(ca.certPem).toString('base64') },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
        }],
      },
    });
  });
  afterAll(async () => {
    await kc.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: hookName() }).catch(() => undefined);
    server.close();
  });

  it('calls the webhook when a pod is created and stores its patch', async () => {
    const pod: V1Pod = { metadata: { name: 'mutated' }, spec: podTemplate('m').spec };
    // The webhook configuration takes effect in the API server within a moment of its creation.
    const stored = await eventually('the webhook to mutate a new pod', async () => {
      const created = await core.createNamespacedPod({ namespace: ns, body: { ...pod, metadata: { name: `mutated-${Date.now()}` } } });
      return created.metadata?.annotations?.['cp-test/mutated'] === 'yes' ? created : undefined;
    });
    const reread = await core.readNamespacedPod({ name: stored.metadata!.name!, namespace: ns });
    expect(reread.metadata?.annotations?.['cp-test/mutated']).toBe('yes');
    expect(calls).toBeGreaterThan(0);
  });
});
