// Helpers for the operator and CRD suites: apply the CRD (cluster/intercept-crd.ts), run the operator in-process, make
// workloads, and play a sidecar on the control channel with a real projected token.

import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { buildLogger } from '../../../core/logging.js';
import { buildRegistry } from '../../../core/metrics.js';
import { CONTROL_PATH, type OperatorToSidecar, type SidecarToOperator } from '../../../core/control/protocol.js';
import type { RoutingTable } from '../../../core/routing/table.js';
import { buildKubeClient, resourcePath, type KubeClient } from '../../../core/kube/client.js';
import { startOperator, type OperatorOptions, type RunningOperator } from '../../../operator/operator.js';
import { interceptsPath } from '../../../cluster/intercept-crd.js';
import { eventually } from '../../../cluster/kube.js';

export { applyInterceptCrd, CRD_PATH, interceptsPath } from '../../../cluster/intercept-crd.js';

export function startTestOperator(kc: KubeConfig, over: Partial<OperatorOptions> = {}): Promise<RunningOperator> {
  return startOperator({
    kubeConfig: kc,
    logger: buildLogger({ name: 'detour-operator', level: (process.env.DETOUR_TEST_LOG_LEVEL as 'info' | undefined) ?? 'silent' }),
    registry: buildRegistry(false),
    identity: `op-${randomBytes(3).toString('hex')}`,
    leaseNamespace: 'default',
    leaseName: 'detour-operator-test',
    controlPort: 0,
    healthPort: 0,
    metricsPort: 0,
    host: '127.0.0.1',
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 300,
    ...over,
  });
}

export interface InterceptJson {
  metadata: { name: string; namespace: string; uid: string; creationTimestamp: string; finalizers?: string[]; deletionTimestamp?: string };
  spec: Record<string, unknown>;
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string; reason: string; message: string; lastTransitionTime: string }>;
    sidecars?: { ready: number; desired: number };
    clients?: number;
    tokenSecretName?: string;
    expiresAt?: string;
    observedGeneration?: number;
  };
}

export function createIntercept(client: KubeClient, ns: string, name: string, spec: Record<string, unknown>): Promise<InterceptJson> {
  // fieldValidation=Strict, as kubectl sends it: unknown fields are refused, not silently pruned.
  return client.request('POST', interceptsPath(ns), { query: { fieldValidation: 'Strict' }, body: { apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept', metadata: { name, namespace: ns }, spec } });
}

export async function getIntercept(client: KubeClient, ns: string, name: string): Promise<InterceptJson | undefined> {
  try {
    return await client.request<InterceptJson>('GET', interceptsPath(ns, name));
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** Waits until the Intercept's status satisfies `ok`, and returns it. */
export function waitForIntercept(client: KubeClient, ns: string, name: string, what: string, ok: (i: InterceptJson) => boolean): Promise<InterceptJson> {
  return eventually(`${ns}/${name}: ${what}`, async () => {
    const i = await getIntercept(client, ns, name);
    return i && ok(i) ? i : undefined;
  });
}

export function condition(i: InterceptJson, type: string) {
  return i.status?.conditions?.find((c) => c.type === type);
}

export async function createDeployment(client: KubeClient, ns: string, name: string, opts: { replicas?: number; portName?: string } = {}): Promise<void> {
  await client.request('POST', resourcePath('apps', 'v1', 'deployments', ns), {
    body: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns },
      spec: {
        replicas: opts.replicas ?? 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'app', image: 'example.invalid/app:1', ports: [{ name: opts.portName ?? 'http', containerPort: 8080 }] }] },
        },
      },
    },
  });
}

export interface PodJson { metadata: { name: string; uid: string; namespace: string; ownerReferences?: Array<{ kind: string; name: string }> } }

/** A pod of the workload, as the real controller-manager created it. */
export function waitForPod(client: KubeClient, ns: string, app: string): Promise<PodJson> {
  return eventually(`a pod of ${ns}/${app}`, async () => {
    const list = await client.request<{ items: PodJson[] }>('GET', resourcePath('', 'v1', 'pods', ns), { query: { labelSelector: `app=${app}` } });
    return list.items[0];
  });
}

/** A projected token bound to the pod, as the kubelet would mount it for the sidecar. */
export async function podToken(client: KubeClient, pod: PodJson, audience = 'detour'): Promise<string> {
  const res = await client.request<{ status: { token: string } }>('POST', resourcePath('', 'v1', 'serviceaccounts', pod.metadata.namespace, 'default', 'token'), {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [audience], expirationSeconds: 600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid } } },
  });
  return res.status.token;
}

export class FakeSidecar {
  readonly tables: RoutingTable[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  private constructor(private readonly ws: WebSocket, private readonly autoAck: boolean) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as OperatorToSidecar;
      if (msg.type === 'table') {
        this.tables.push(msg.table);
        if (this.autoAck) this.send({ type: 'ack', epoch: msg.table.epoch, version: msg.table.version });
        for (const w of this.waiters.splice(0)) w();
      }
    });
    ws.on('close', () => { this.closed = true; for (const w of this.waiters.splice(0)) w(); });
  }

  static connect(port: number, token: string | undefined, autoAck = true): Promise<FakeSidecar> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${CONTROL_PATH}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      ws.once('open', () => resolve(new FakeSidecar(ws, autoAck)));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`refused with HTTP ${res.statusCode}`), { statusCode: res.statusCode })));
      ws.once('error', reject);
    });
  }

  latest(): RoutingTable | undefined {
    return this.tables[this.tables.length - 1];
  }

  send(msg: SidecarToOperator): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** Waits for a table (the latest received) that satisfies `ok`. */
  async waitForTable(ok: (t: RoutingTable) => boolean, timeoutMs = 30_000): Promise<RoutingTable> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = this.latest();
      if (t && ok(t)) return t;
      if (this.closed) throw new Error('the control channel closed');
      if (Date.now() > deadline) throw new Error(`no matching table; last: ${JSON.stringify(t)}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 500); });
    }
  }

  close(): void {
    this.ws.close();
  }
}

export { buildKubeClient };
