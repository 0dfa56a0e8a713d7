// Helpers for looking at pods on the test node from the inside (integration suites, the demo).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { planPodNetworkNames, type NodeNetwork } from './node/network.js';
import { eventually } from './kube.js';

const run = promisify(execFile);

export function nodeNetwork(): NodeNetwork {
  const raw = process.env.DETOUR_TEST_NODE_NETWORK;
  if (!raw) throw new Error('DETOUR_TEST_NODE_NETWORK is not set: run integration tests with jest.integration.config.js');
  return JSON.parse(raw) as NodeNetwork;
}

export function podNetns(pod: V1Pod): string {
  return planPodNetworkNames(nodeNetwork().index, pod.metadata!.uid!).namespace;
}

/** Runs a command inside the pod's network namespace (with its resolv.conf), like `kubectl exec`. */
export async function execInPod(pod: V1Pod, argv: string[]): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', podNetns(pod), ...argv], { timeout: 30_000 });
  return stdout;
}

/** An HTTP GET from inside the pod, using Node's fetch and the pod's DNS; as user `uid` if given (like a process of the pod). */
export async function fetchFromPod(pod: V1Pod, url: string, uid?: number): Promise<{ status: number; body: string }> {
  const script = `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(5000) }).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), (e) => { console.log(JSON.stringify({ status: 0, body: String(e.cause?.code ?? e) })); })`;
  const as = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'];
  return JSON.parse((await execInPod(pod, [...as, process.execPath, '-e', script])).trim()) as { status: number; body: string };
}

export function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export async function waitForReadyPods(kc: KubeConfig, namespace: string, labelSelector: string, count: number, timeoutMs = 90_000): Promise<V1Pod[]> {
  const core = kc.makeApiClient(CoreV1Api);
  return eventually(`${count} ready pods matching ${labelSelector} in ${namespace}`, async () => {
    const list = await core.listNamespacedPod({ namespace, labelSelector });
    const live = list.items.filter((p) => !p.metadata?.deletionTimestamp);
    return live.length === count && live.every(isReady) ? live : undefined;
  }, timeoutMs);
}

/**
 * Waits until the Service's ready endpoints are exactly `pods` (e.g. after a rollout, when old pods
 * still linger in the EndpointSlice for a moment), as a client of the Service would need.
 */
export async function waitForServiceEndpoints(kc: KubeConfig, namespace: string, service: string, pods: V1Pod[], timeoutMs = 60_000): Promise<void> {
  const { DiscoveryV1Api } = await import('@kubernetes/client-node');
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const want = pods.map((p) => p.status!.podIP!).sort().join(',');
  await eventually(`the endpoints of Service ${namespace}/${service} to be ${want}`, async () => {
    const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` });
    const ready = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready === true && !e.conditions?.terminating).flatMap((e) => e.addresses);
    return [...new Set(ready)].sort().join(',') === want ? true : undefined;
  }, timeoutMs);
}
