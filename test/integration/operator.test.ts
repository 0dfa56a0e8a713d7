// The operator in-process against a real control plane: Intercept lifecycle, opt-in, token
// Secret, Waiting → going on by itself, Failed reasons, conflicts, expiry, the control channel
// (real projected pod tokens), restart convergence and leader failover.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import {
  FakeSidecar, applyInterceptCrd, buildKubeClient, condition, createDeployment, createIntercept, getIntercept, interceptsPath,
  podToken, startTestOperator, waitForIntercept, waitForPod,
} from './support/operator-harness.js';
import { resourcePath, type KubeClient } from '../../core/kube/client.js';
import type { RunningOperator } from '../../operator/operator.js';

const kc = loadKubeConfig();
let client: KubeClient;
let ns: string;
let op: RunningOperator | undefined;
const alice = { headers: [{ name: 'x-detour-user', exact: 'alice' }] };
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function secretToken(name: string): Promise<{ token: string; owner?: string }> {
  const s = await client.request<{ data: { token: string }; metadata: { ownerReferences?: Array<{ uid: string }> } }>('GET', resourcePath('', 'v1', 'secrets', ns, name));
  return { token: Buffer.from(s.data.token, 'base64').toString('utf8'), owner: s.metadata.ownerReferences?.[0]?.uid };
}

const del = (name: string) => client.request('DELETE', interceptsPath(ns, name));

beforeAll(async () => {
  client = buildKubeClient(kc);
  await applyInterceptCrd(client);
  ns = await createNamespace(kc, 'op');
  op = await startTestOperator(kc);
  await eventually('the operator to lead', async () => (op!.isReady() ? true : undefined));
});

afterAll(async () => {
  await op?.stop();
  await deleteNamespace(kc, ns);
  client.close();
});

describe('reconciling Intercepts', () => {
  it('opts the workload in, mints an owned token Secret, adds the finalizer and reports status', async () => {
    await createDeployment(client, ns, 'checkout', { replicas: 2 });
    const created = await createIntercept(client, ns, 'alice-checkout', { workload: { kind: 'Deployment', name: 'checkout' }, match: alice, owner: 'alice@example.com', ttl: '8h' });
    const i = await waitForIntercept(client, ns, 'alice-checkout', 'routed', (x) => condition(x, 'Routed')?.status === 'True');
    expect(i.status?.phase).toBe('Pending');
    expect(i.metadata.finalizers).toContain('detour.dev/routes');
    expect(i.status?.sidecars).toEqual({ ready: 0, desired: 2 });
    expect(i.status?.tokenSecretName).toBe('alice-checkout-detour-token');
    expect(i.status?.observedGeneration).toBe(1);
    expect(Date.parse(i.status!.expiresAt!) - Date.parse(created.metadata.creationTimestamp)).toBe(8 * 3600_000);
    const { token, owner } = await secretToken('alice-checkout-detour-token');
    expect(token.length).toBeGreaterThanOrEqual(43);
    expect(owner).toBe(created.metadata.uid);
    const d = await client.request<{ spec: { template: { metadata: { labels: Record<string, string> } } } }>('GET', resourcePath('apps', 'v1', 'deployments', ns, 'checkout'));
    expect(d.spec.template.metadata.labels['detour.dev/inject']).toBe('true');
    const events = await client.request<{ items: Array<{ reason: string; involvedObject: { name: string } }> }>('GET', resourcePath('', 'v1', 'events', ns));
    expect(events.items.filter((e) => e.involvedObject.name === 'alice-checkout').map((e) => e.reason)).toEqual(expect.arrayContaining(['OptedIn', 'TokenMinted']));
  });

  it('mints a new token when the Secret is deleted', async () => {
    const before = await secretToken('alice-checkout-detour-token');
    await client.request('DELETE', resourcePath('', 'v1', 'secrets', ns, 'alice-checkout-detour-token'));
    const after = await eventually('a new token', async () => {
      const s = await secretToken('alice-checkout-detour-token').catch(() => undefined);
      return s && s.token !== before.token ? s : undefined;
    });
    expect(after.owner).toBe(before.owner);
  });

  it('waits for a workload that does not exist yet and goes on by itself when it appears', async () => {
    await createIntercept(client, ns, 'early', { workload: { kind: 'Deployment', name: 'later' }, match: { headers: [{ name: 'x-detour-user', exact: 'early' }] } });
    const waiting = await waitForIntercept(client, ns, 'early', 'Waiting', (x) => x.status?.phase === 'Waiting');
    expect(condition(waiting, 'WorkloadFound')).toMatchObject({ status: 'False', reason: 'WorkloadNotFound' });
    await createDeployment(client, ns, 'later');
    const going = await waitForIntercept(client, ns, 'early', 'routed', (x) => condition(x, 'Routed')?.status === 'True');
    expect(condition(going, 'WorkloadFound')?.status).toBe('True');
  });

  it.each([
    ['no such port', { port: 'grpc' }, 'PortNotFound', /declares a port named "grpc".*http \(8080\)/],
    ['a numeric port without the iptables opt-in', { port: 8080 }, 'NumericPortNeedsIptables', /detour\.dev\/iptables/],
    ['a regex Go\'s RE2 accepts and the sidecar\'s re2js does not', { match: { headers: [{ name: 'x', regex: '\\p{Cn}' }] } }, 'InvalidRegex', /RE2 engine/],
    ['a Mirror that would copy everyone\'s requests', { mode: 'Mirror', match: { headers: [{ name: 'x-detour-user', regex: '.+' }] } }, 'BroadMirrorNotAllowed', /detour\.dev\/allow-broad-mirror="true"/],
  ])('fails with a reason that says what to do: %s', async (_n, spec, reason, message) => {
    const name = `fail-${reason.toLowerCase()}`;
    await createIntercept(client, ns, name, { workload: { kind: 'Deployment', name: 'checkout' }, match: alice, ...spec });
    const i = await waitForIntercept(client, ns, name, 'Failed', (x) => x.status?.phase === 'Failed');
    expect(condition(i, 'Routed')).toMatchObject({ status: 'False', reason });
    expect(condition(i, 'Routed')!.message).toMatch(message);
  });

  it('gives the newer of two overlapping Steal intercepts Conflict, and routes it once the older is gone', async () => {
    await createDeployment(client, ns, 'cart');
    await createIntercept(client, ns, 'first', { workload: { kind: 'Deployment', name: 'cart' }, match: alice });
    await waitForIntercept(client, ns, 'first', 'routed', (x) => condition(x, 'Routed')?.status === 'True');
    await createIntercept(client, ns, 'second', { workload: { kind: 'Deployment', name: 'cart' }, match: alice });
    const second = await waitForIntercept(client, ns, 'second', 'Conflict', (x) => x.status?.phase === 'Conflict');
    expect(condition(second, 'Routed')!.message).toContain(`${ns}/first`);
    expect((await getIntercept(client, ns, 'first'))!.status?.phase).not.toBe('Conflict');
    await del('first');
    await waitForIntercept(client, ns, 'second', 'routed after the older one left', (x) => condition(x, 'Routed')?.status === 'True');
  });

  it('gives Conflict to a newer, more specific rule set that could take alice\'s and bob\'s requests (issue 12)', async () => {
    await createDeployment(client, ns, 'orders');
    const orders = { kind: 'Deployment', name: 'orders' };
    await createIntercept(client, ns, 'alice-orders', { workload: orders, match: alice });
    await createIntercept(client, ns, 'bob-orders', { workload: orders, match: { headers: [{ name: 'x-detour-user', exact: 'bob' }] } });
    await waitForIntercept(client, ns, 'alice-orders', 'routed', (x) => condition(x, 'Routed')?.status === 'True');
    await waitForIntercept(client, ns, 'bob-orders', 'routed', (x) => condition(x, 'Routed')?.status === 'True');
    await createIntercept(client, ns, 'mallory-orders', { workload: orders, match: { headers: [{ name: 'x-detour-user', regex: '.+' }], pathPrefix: '/' } });
    const mallory = await waitForIntercept(client, ns, 'mallory-orders', 'Conflict', (x) => x.status?.phase === 'Conflict');
    expect(condition(mallory, 'Routed')!.message).toContain(`${ns}/alice-orders`);
    for (const n of ['alice-orders', 'bob-orders']) expect((await getIntercept(client, ns, n))!.status?.phase).not.toBe('Conflict');
  });

  it('expires at creation + ttl', async () => {
    const created = await createIntercept(client, ns, 'short', { workload: { kind: 'Deployment', name: 'checkout' }, match: { headers: [{ name: 'x-detour-user', exact: 'short' }] }, ttl: '3s' });
    const i = await waitForIntercept(client, ns, 'short', 'Expired', (x) => x.status?.phase === 'Expired');
    expect(Date.parse(i.status!.expiresAt!) - Date.parse(created.metadata.creationTimestamp)).toBe(3000);
    expect(condition(i, 'Routed')).toMatchObject({ status: 'False', reason: 'Expired' });
  });
});

describe('the control channel', () => {
  it('refuses connections without a valid token', async () => {
    const refused = (token: string | undefined) => FakeSidecar.connect(op!.controlPort, token).then(() => 0, (e: { statusCode?: number }) => e.statusCode);
    expect(await refused(undefined)).toBe(401);
    expect(await refused('not-a-token')).toBe(401);
    const pod = await waitForPod(client, ns, 'checkout');
    expect(await refused(await podToken(client, pod, 'some-other-audience'))).toBe(401);
  });

  it('pushes the workload table on connect and on change, and turns acks and reports into status', async () => {
    const pod = await waitForPod(client, ns, 'checkout');
    const sidecar = await FakeSidecar.connect(op!.controlPort, await podToken(client, pod));
    try {
      const key = `${ns}/alice-checkout`;
      const { token } = await secretToken('alice-checkout-detour-token');
      const t = await sidecar.waitForTable((x) => x.routes.some((r) => r.intercept === key));
      expect(t.workload).toEqual({ kind: 'Deployment', namespace: ns, name: 'checkout' });
      const route = t.routes.find((r) => r.intercept === key)!;
      expect(route).toMatchObject({ port: 'http', mode: 'Steal', fallback: 'App', match: alice, tokenHash: sha256(token) });
      expect(JSON.stringify(t)).not.toContain(token);
      // Failed, expired or conflicting intercepts are not routed.
      expect(t.routes.map((r) => r.intercept)).not.toEqual(expect.arrayContaining([`${ns}/short`, `${ns}/fail-portnotfound`]));

      await waitForIntercept(client, ns, 'alice-checkout', 'Active with a sidecar', (x) => x.status?.phase === 'Active' && x.status.sidecars?.ready === 1);
      sidecar.send({ type: 'report', pod: pod.metadata.name, intercepts: { [key]: { clients: 2, routed: 5, fallback: 0 } } });
      const withClients = await waitForIntercept(client, ns, 'alice-checkout', 'clients reported', (x) => x.status?.clients === 2);
      expect(condition(withClients, 'ClientConnected')?.status).toBe('True');

      // A new Intercept arrives in a new table; deleting it withdraws the route and releases it.
      const before = sidecar.latest()!.version;
      await createIntercept(client, ns, 'bob-checkout', { workload: { kind: 'Deployment', name: 'checkout' }, match: { headers: [{ name: 'x-detour-user', exact: 'bob' }] } });
      const withBob = await sidecar.waitForTable((x) => x.routes.some((r) => r.intercept === `${ns}/bob-checkout`));
      expect(withBob.version).toBeGreaterThan(before);
      await del('bob-checkout');
      await sidecar.waitForTable((x) => !x.routes.some((r) => r.intercept === `${ns}/bob-checkout`));
      await eventually('bob-checkout to be gone', async () => ((await getIntercept(client, ns, 'bob-checkout')) ? undefined : true));
    } finally {
      sidecar.close();
    }
  });
});

describe('restarts and leadership', () => {
  it('converges after a restart with nothing lost, including changes made while it was down', async () => {
    const pod = await waitForPod(client, ns, 'checkout');
    await op!.stop();
    op = undefined;
    await createIntercept(client, ns, 'while-down', { workload: { kind: 'Deployment', name: 'checkout' }, match: { headers: [{ name: 'x-detour-user', exact: 'carol' }] } });
    await del('second'); // has the finalizer: stays until an operator withdraws its routes
    op = await startTestOperator(kc);
    await eventually('the new operator to lead', async () => (op!.isReady() ? true : undefined));
    await waitForIntercept(client, ns, 'while-down', 'routed', (x) => condition(x, 'Routed')?.status === 'True' && !!x.metadata.finalizers);
    await eventually('second to be finalized', async () => ((await getIntercept(client, ns, 'second')) ? undefined : true));
    expect((await getIntercept(client, ns, 'alice-checkout'))!.status?.phase).toMatch(/Active|Pending/);
    const sidecar = await FakeSidecar.connect(op!.controlPort, await podToken(client, pod));
    try {
      const t = await sidecar.waitForTable((x) => x.routes.length > 0);
      expect(t.routes.map((r) => r.intercept).sort()).toEqual([`${ns}/alice-checkout`, `${ns}/while-down`]);
    } finally {
      sidecar.close();
    }
  });

  it('two instances elect one leader; when it stops, the other takes over', async () => {
    const leaseName = `failover-${ns}`;
    const a = await startTestOperator(kc, { leaseName });
    const b = await startTestOperator(kc, { leaseName });
    try {
      await eventually('a leader', async () => (a.isLeader() || b.isLeader() ? true : undefined));
      await new Promise((r) => setTimeout(r, 1000));
      expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
      const [leader, standby] = a.isLeader() ? [a, b] : [b, a];
      const readyz = (o: RunningOperator) => fetch(`http://127.0.0.1:${o.healthPort}/readyz`).then((r) => r.status);
      await eventually('the leader to be ready', async () => ((await readyz(leader)) === 200 ? true : undefined));
      expect(await readyz(standby)).toBe(503);
      await leader.stop();
      await eventually('the standby to take over', async () => (standby.isLeader() && standby.isReady() ? true : undefined));
      expect(await readyz(standby)).toBe(200);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
