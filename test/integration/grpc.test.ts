// gRPC through real sidecar pods, as a user would run it: the chart installed, a labelled
// Deployment whose app is a grpc-js server (`detour/grpc-echo`), a grpc-js client calling the
// Service. Errors (trailers-only and after messages) keep their code, details and trailer metadata
// on the app path, on the developer path (tunnels through the API server's pod proxy to a grpc-js
// server on the "laptop") and under Mirror.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { createHash, randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION } from '../../core/constants.js';
import { parseInjectionRecord } from '../../core/injection-record.js';
import { TOKEN_SECRET_KEY } from '../../core/api/intercept.js';
import { connectTunnel, type Tunnel } from '../../core/tunnel/developer.js';
import {
  grpcEchoClient, serverStream, startGrpcEchoServer, TRAILER_BIN, unary, type EchoClientApi, type GrpcEchoServer,
} from '../fixtures/grpc.js';
import { buildKubeClient, createIntercept, waitForIntercept } from './support/operator-harness.js';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import { installDetour, type InstalledDetour } from '../../cluster/install-detour.js';
import { waitForReadyPods, waitForServiceEndpoints } from '../../cluster/pods.js';

const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const client = buildKubeClient(kc);
const { status } = grpc;

let detour: InstalledDetour | undefined;
let ns: string;
let alice: GrpcEchoServer;
let bob: GrpcEchoServer;
let service: EchoClientApi;
const tunnels: Tunnel[] = [];

/** Opens a tunnel to every pod of the workload through the pod proxy subresource. */
async function connectDeveloper(intercept: string, target: string): Promise<void> {
  const secretName = (await waitForIntercept(client, ns, intercept, 'a token Secret', (i) => !!i.status?.tokenSecretName)).status!.tokenSecretName!;
  const secret = await core.readNamespacedSecret({ namespace: ns, name: secretName });
  const token = Buffer.from(secret.data![TOKEN_SECRET_KEY]!, 'base64').toString('utf8');
  const cluster = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser()!;
  const ca = Buffer.from(cluster.caData!, 'base64').toString();
  for (const pod of await waitForReadyPods(kc, ns, 'app=orders', 2)) {
    const record = parseInjectionRecord(pod.metadata!.annotations![INJECTED_ANNOTATION])!;
    const url = `${cluster.server.replace(/^https:/, 'wss:')}/api/v1/namespaces/${ns}/pods/${pod.metadata!.name}:${record.tunnelPort}/proxy/tunnel`;
    tunnels.push(await connectTunnel({ url, token, target, tokenHeader: 'x-detour-token', headers: { authorization: `Bearer ${user.token}` }, webSocketOptions: { ca } }));
  }
}

const notFound = (user?: string) => ({ metadata: { ...(user ? { 'x-detour-user': user } : {}), 'want-status': String(status.NOT_FOUND), 'want-details': 'no such order' } });

beforeAll(async () => {
  alice = await startGrpcEchoServer({ pod: 'laptop-alice' });
  bob = await startGrpcEchoServer({ pod: 'laptop-bob' });
  detour = await installDetour(kc);
  ns = await createNamespace(kc, 'grpc');
  await eventually('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace: ns }));
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'orders' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'orders' } },
        template: {
          // The chart takes over ports named `http`; this one is named `grpc`, so the pod says so.
          metadata: { labels: { app: 'orders', 'detour.dev/inject': 'true' }, annotations: { 'detour.dev/ports': 'grpc' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [{
              name: 'app', image: 'detour/grpc-echo', env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
              ports: [{ name: 'grpc', containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 'grpc' }, periodSeconds: 1 },
            }],
          },
        },
      },
    },
  });
  const svc = await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'orders' }, spec: { selector: { app: 'orders' }, ports: [{ name: 'grpc', port: 80, targetPort: 'grpc' }] } } });
  const pods = await waitForReadyPods(kc, ns, 'app=orders', 2);
  await waitForServiceEndpoints(kc, ns, 'orders', pods);
  service = grpcEchoClient(80, svc.spec!.clusterIP!);
  await eventually('the Service to answer gRPC', async () => ((await unary(service, Buffer.from('hi'))).code === status.OK ? true : undefined));
});

afterAll(async () => {
  service?.close();
  for (const t of tunnels) await t.close().catch(() => undefined);
  await detour?.uninstall();
  if (ns) await deleteNamespace(kc, ns);
  await Promise.all([alice?.close(), bob?.close()]);
  client.close();
});

describe('gRPC through sidecar pods', () => {
  it('keeps the app\'s errors and trailer metadata (trailers-only and after messages)', async () => {
    const ok = await unary(service, Buffer.from('ping'));
    expect(ok).toMatchObject({ code: status.OK, messages: [Buffer.from('ping')] });
    expect(String(ok.trailers['x-pod'])).toMatch(/^orders-/);
    const err = await unary(service, Buffer.from('x'), notFound());
    expect({ code: err.code, details: err.details, bin: err.trailers['x-trailer-bin'] }).toEqual({ code: status.NOT_FOUND, details: 'no such order', bin: TRAILER_BIN });
    expect(String(err.trailers['x-pod'])).toMatch(/^orders-/);
    const late = await serverStream(service, Buffer.from('m'), { metadata: { 'want-count': '2', 'want-status': String(status.ABORTED), 'want-details': 'stopped' } });
    expect({ code: late.code, details: late.details, messages: late.messages.length }).toEqual({ code: status.ABORTED, details: 'stopped', messages: 2 });
  });

  it('routes calls with the header to the developer, errors and large messages intact', async () => {
    await createIntercept(client, ns, 'alice-orders', {
      workload: { kind: 'Deployment', name: 'orders' }, port: 'grpc', owner: 'alice@example.com',
      match: { headers: [{ name: 'x-detour-user', exact: 'alice' }] },
    });
    await waitForIntercept(client, ns, 'alice-orders', 'Active with both sidecars', (i) => i.status?.phase === 'Active' && i.status.sidecars?.ready === 2);
    await connectDeveloper('alice-orders', alice.url);
    // Both replicas answer through their own tunnel (8 calls hit both).
    await eventually('calls with x-detour-user: alice to reach the laptop', async () => {
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => unary(service, Buffer.from('x'), notFound('alice'))));
      return outcomes.every((o) => o.code === status.NOT_FOUND && o.details === 'no such order' && o.trailers['x-pod'] === 'laptop-alice'
        && Buffer.isBuffer(o.trailers['x-trailer-bin']) && (o.trailers['x-trailer-bin'] as Buffer).equals(TRAILER_BIN)) ? true : undefined;
    }, 30_000);
    const big = randomBytes(4 * 1024 * 1024);
    const echoed = await unary(service, big, { metadata: { 'x-detour-user': 'alice' } });
    expect(echoed.code).toBe(status.OK);
    expect(createHash('sha256').update(echoed.messages[0]!).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
    const other = await unary(service, Buffer.from('x'), notFound('somebody-else'));
    expect(other.code).toBe(status.NOT_FOUND);
    expect(String(other.trailers['x-pod'])).toMatch(/^orders-/);
  });

  it('lets the app answer under Mirror while the copy reaches the developer', async () => {
    await createIntercept(client, ns, 'bob-orders', {
      workload: { kind: 'Deployment', name: 'orders' }, port: 'grpc', owner: 'bob@example.com', mode: 'Mirror',
      match: { headers: [{ name: 'x-detour-user', exact: 'bob' }] },
    });
    await waitForIntercept(client, ns, 'bob-orders', 'Active with both sidecars', (i) => i.status?.phase === 'Active' && i.status.sidecars?.ready === 2);
    await connectDeveloper('bob-orders', bob.url);
    await eventually('copies of bob\'s calls to reach his laptop', async () => {
      const id = randomBytes(4).toString('hex');
      const o = await unary(service, Buffer.from('x'), { metadata: { ...notFound('bob').metadata, 'x-test-id': id } });
      if (o.code !== status.NOT_FOUND || !String(o.trailers['x-pod']).startsWith('orders-')) throw new Error(`the app did not answer: ${o.code} ${o.details}`);
      await new Promise((r) => setTimeout(r, 200));
      return bob.calls.some((c) => c.metadata['x-test-id'] === id) ? true : undefined;
    }, 30_000);
  });
});
