// Failover after a crash: the leader runs as a real process (`node dist/operator/main.js`) and is
// SIGKILLed, so it neither releases its Lease nor closes its sockets. The standby (in-process) may
// take over only once the Lease has gone unrenewed for its duration; then it becomes Ready,
// reconciles what changed while nobody led, and a sidecar reconnecting to it gets the table.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createNamespace, deleteNamespace, eventually, loadKubeConfig } from '../../cluster/kube.js';
import {
  FakeSidecar, applyInterceptCrd, buildKubeClient, condition, createDeployment, createIntercept, getIntercept, interceptsPath,
  podToken, startTestOperator, waitForIntercept, waitForPod,
} from './support/operator-harness.js';
import { resourcePath, type KubeClient } from '../../core/kube/client.js';
import type { RunningOperator } from '../../operator/operator.js';

const OPERATOR_MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../dist/operator/main.js');
const kc = loadKubeConfig();
let client: KubeClient;
let ns: string;
const user = (name: string) => ({ headers: [{ name: 'x-detour-user', exact: name }] });

interface OperatorProcess { child: ChildProcess; identity: string; controlPort: number; healthPort: number; output: string[] }

/** Starts the built operator as a child process with a 3 s lease, and waits for it to listen. */
async function spawnOperator(leaseName: string): Promise<OperatorProcess> {
  const identity = `crashy-${randomBytes(3).toString('hex')}`;
  const child = spawn(process.execPath, [OPERATOR_MAIN], {
    env: {
      ...process.env, // KUBECONFIG from the global setup
      POD_NAME: identity, POD_NAMESPACE: 'default', DETOUR_LEASE_NAME: leaseName,
      DETOUR_CONTROL_PORT: '0', DETOUR_HEALTH_PORT: '0', DETOUR_METRICS_PORT: '0',
      DETOUR_CERT_MANAGER: 'cert-manager', DETOUR_LOG_LEVEL: 'info',
      DETOUR_LEASE_DURATION_SECONDS: '3', DETOUR_RENEW_DEADLINE_SECONDS: '2', DETOUR_RETRY_PERIOD_SECONDS: '0.3',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the operator exited (${code}) before it listened: ${output.join('').slice(-2000)}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const rec = JSON.parse(line) as { msg?: string; controlPort?: number; healthPort?: number };
      if (rec.msg === 'Started operator') resolve({ child, identity, controlPort: rec.controlPort!, healthPort: rec.healthPort!, output });
    });
  });
}

interface Lease { spec: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number } }
const getLease = (name: string) => client.request<Lease>('GET', resourcePath('coordination.k8s.io', 'v1', 'leases', 'default', name));
const readyz = (port: number) => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status);

beforeAll(async () => {
  client = buildKubeClient(kc);
  await applyInterceptCrd(client);
  ns = await createNamespace(kc, 'failover');
});

afterAll(async () => {
  await deleteNamespace(kc, ns);
  client.close();
});

it('a standby takes over from a leader that crashed without releasing the Lease, and converges', async () => {
  const leaseName = `crash-${ns}`;
  await createDeployment(client, ns, 'checkout');
  await createIntercept(client, ns, 'kept', { workload: { kind: 'Deployment', name: 'checkout' }, match: user('alice') });
  await createIntercept(client, ns, 'leaving', { workload: { kind: 'Deployment', name: 'checkout' }, match: user('bob') });

  const leader = await spawnOperator(leaseName);
  let standby: RunningOperator | undefined;
  const sidecars: FakeSidecar[] = [];
  try {
    await eventually('the child operator to lead and be ready', async () => ((await readyz(leader.healthPort)) === 200 ? true : undefined));
    for (const name of ['kept', 'leaving']) await waitForIntercept(client, ns, name, 'routed', (x) => condition(x, 'Routed')?.status === 'True' && !!x.metadata.finalizers);
    standby = await startTestOperator(kc, { leaseName });

    const pod = await waitForPod(client, ns, 'checkout');
    const before = await FakeSidecar.connect(leader.controlPort, await podToken(client, pod));
    sidecars.push(before);
    const oldTable = await before.waitForTable((t) => t.routes.length === 2);

    leader.child.kill('SIGKILL');
    await new Promise((r) => leader.child.once('exit', r));
    // Nothing was released: the Lease still names the dead leader, and the standby does not lead yet.
    const orphaned = await getLease(leaseName);
    expect(orphaned.spec).toMatchObject({ holderIdentity: leader.identity, leaseDurationSeconds: 3 });
    expect(standby.isLeader()).toBe(false);
    expect(await readyz(standby.healthPort)).toBe(503);
    await eventually('the sidecar to notice the dead connection', async () => (before.closed ? true : undefined));

    // Changes while nobody leads.
    await createIntercept(client, ns, 'while-leaderless', { workload: { kind: 'Deployment', name: 'checkout' }, match: user('carol') });
    await client.request('DELETE', interceptsPath(ns, 'leaving')); // held by the finalizer until a leader withdraws its route

    await eventually('the standby to take over and be ready', async () => (standby!.isLeader() && standby!.isReady() ? true : undefined));
    expect(await readyz(standby.healthPort)).toBe(200);
    const taken = await getLease(leaseName);
    expect(taken.spec.holderIdentity).not.toBe(leader.identity);
    expect(taken.spec.leaseTransitions).toBe((orphaned.spec.leaseTransitions ?? 0) + 1);

    await waitForIntercept(client, ns, 'while-leaderless', 'routed', (x) => condition(x, 'Routed')?.status === 'True' && !!x.metadata.finalizers);
    await eventually('leaving to be finalized', async () => ((await getIntercept(client, ns, 'leaving')) ? undefined : true));

    // The sidecar reconnects (through the Service, in a cluster) and gets the new leader's table.
    const after = await eventually('the new leader to accept the sidecar', async () => FakeSidecar.connect(standby!.controlPort, await podToken(client, pod)));
    sidecars.push(after);
    const table = await after.waitForTable((t) => t.routes.length > 0);
    expect(table.routes.map((r) => r.intercept).sort()).toEqual([`${ns}/kept`, `${ns}/while-leaderless`]);
    expect(table.epoch).not.toBe(oldTable.epoch);
  } catch (err) {
    process.stderr.write(`crashed operator's output:\n${leader.output.join('\n').slice(-4000)}\n`);
    throw err;
  } finally {
    for (const s of sidecars) s.close();
    if (leader.child.exitCode === null && leader.child.signalCode === null) leader.child.kill('SIGKILL');
    await standby?.stop();
  }
});
