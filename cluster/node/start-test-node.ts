// The test node: a Node that stays Ready (status and Lease renewed) and really runs the pods bound
// to it (see pod-runner.ts), plus the node's Service networking: the real kube-proxy (iptables
// mode) in the node network namespace and a DNS server for Service names.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoordinationV1Api, CoreV1Api, DiscoveryV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { resolveServiceName, startDnsServer, type DnsServer, type ServiceRecord } from './dns-server.js';
import type { ImageMap } from './images.js';
import { nodeStateDir, type NodeNetwork } from './network.js';
import { PodRunner } from './pod-runner.js';
import { sleep } from '../../core/sleep.js';

export interface TestNodeOptions {
  kubeConfig: KubeConfig;
  /** Kubeconfig file for kube-proxy (must reach the API server from the node namespace). */
  kubeconfigPath: string;
  kubeProxyBinary: string;
  net: NodeNetwork;
  imageMap: ImageMap;
  /** State folder (kube-proxy log). */
  dir: string;
  /**
   * Where pod volumes and container logs live; default /run/detour/node-K. Not under /tmp: a
   * container that mounts an emptyDir at /tmp must not hide the sources of its other mounts.
   */
  podsDir?: string;
  /** The folder the image map's programs live in (kept visible inside containers). */
  appRoot?: string;
  /** More folders the image map's programs live in (previous releases, cluster/node/releases.ts). */
  extraAppRoots?: string[];
  name?: string;
  log?: (line: string) => void;
}

export interface TestNode {
  name: string;
  /** The address pods get their DNS answers from. */
  dnsServer: string;
  stop(): Promise<void>;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export async function startTestNode(options: TestNodeOptions): Promise<TestNode> {
  const name = options.name ?? 'detour-node';
  const log = options.log ?? (() => {});
  const { net } = options;
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const coordination = options.kubeConfig.makeApiClient(CoordinationV1Api);
  const discovery = options.kubeConfig.makeApiClient(DiscoveryV1Api);
  const podsDir = options.podsDir ?? nodeStateDir(net.index);
  mkdirSync(options.dir, { recursive: true });
  mkdirSync(podsDir, { recursive: true, mode: 0o755 });

  // The Node and its heartbeat.
  const nodeStatus = () => ({
    conditions: [
      { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'detour test node is posting ready status', lastHeartbeatTime: new Date(), lastTransitionTime: readySince },
      ...['MemoryPressure', 'DiskPressure', 'PIDPressure'].map((type) => ({ type, status: 'False', reason: `KubeletHasNo${type}`, lastHeartbeatTime: new Date(), lastTransitionTime: readySince })),
    ],
    addresses: [{ type: 'InternalIP', address: net.nodeAddress }, { type: 'Hostname', address: name }],
    capacity: { cpu: '16', memory: '64Gi', pods: '250', 'ephemeral-storage': '100Gi' },
    allocatable: { cpu: '16', memory: '64Gi', pods: '250', 'ephemeral-storage': '100Gi' },
    nodeInfo: {
      machineID: name, systemUUID: name, bootID: String(process.pid), kernelVersion: 'test', osImage: 'detour test node',
      containerRuntimeVersion: 'detour-test-node://1', kubeletVersion: 'v1.34.12', kubeProxyVersion: 'v1.34.12', operatingSystem: 'linux', architecture: 'amd64',
    },
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
  });
  const readySince = new Date();
  await core.deleteNode({ name }).catch(() => undefined);
  await core.createNode({
    body: {
      metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' } },
      spec: { podCIDR: net.podCidr, podCIDRs: [net.podCidr] },
    },
  });
  await core.patchNodeStatus({ name, body: { status: nodeStatus() } }, mergePatch);

  const renewLease = async () => {
    const body = { metadata: { name, namespace: 'kube-node-lease' }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date().toISOString() as unknown as Date } };
    await coordination.replaceNamespacedLease({ name, namespace: 'kube-node-lease', body }).catch(async () => {
      await coordination.createNamespacedLease({ namespace: 'kube-node-lease', body }).catch(() => undefined);
    });
  };
  await renewLease();
  const heartbeat = setInterval(() => {
    void renewLease();
    void core.patchNodeStatus({ name, body: { status: nodeStatus() } }, mergePatch).catch(() => undefined);
  }, 10_000);

  // Service networking: kube-proxy in the node namespace, DNS on the host address.
  const proxyLog = openSync(join(options.dir, 'kube-proxy.log'), 'a');
  const kubeProxy: ChildProcess = spawn('ip', [
    'netns', 'exec', net.nodeNamespace, options.kubeProxyBinary,
    `--kubeconfig=${options.kubeconfigPath}`,
    `--hostname-override=${name}`,
    '--proxy-mode=iptables',
    `--cluster-cidr=${net.podCidr}`,
    `--bind-address=${net.nodeAddress}`,
    '--conntrack-max-per-core=0',
    '--conntrack-tcp-timeout-established=0',
    '--conntrack-tcp-timeout-close-wait=0',
    '--v=0',
  ], { stdio: ['ignore', proxyLog, proxyLog] });
  closeSync(proxyLog);

  let services: ServiceRecord[] = [];
  const refreshServices = async () => {
    const [svcs, slices] = await Promise.all([core.listServiceForAllNamespaces(), discovery.listEndpointSliceForAllNamespaces()]);
    services = svcs.items.map((s) => {
      const headless = s.spec?.clusterIP === 'None';
      const addresses = headless
        ? slices.items
            .filter((sl) => sl.metadata?.namespace === s.metadata?.namespace && sl.metadata?.labels?.['kubernetes.io/service-name'] === s.metadata?.name)
            .flatMap((sl) => (sl.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses))
        : s.spec?.clusterIP ? [s.spec.clusterIP] : [];
      return { namespace: s.metadata!.namespace!, name: s.metadata!.name!, addresses };
    });
  };
  await refreshServices();
  const dns: DnsServer = await startDnsServer({ host: net.hostAddress, port: 53, lookup: (n) => resolveServiceName(n, services) });

  const kubernetesService = await core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
  const apiIp = kubernetesService.spec!.clusterIP!;
  const serviceEnv = {
    KUBERNETES_SERVICE_HOST: apiIp,
    KUBERNETES_SERVICE_PORT: '443',
    KUBERNETES_SERVICE_PORT_HTTPS: '443',
    KUBERNETES_PORT: `tcp://${apiIp}:443`,
    KUBERNETES_PORT_443_TCP: `tcp://${apiIp}:443`,
    KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
    KUBERNETES_PORT_443_TCP_PORT: '443',
    KUBERNETES_PORT_443_TCP_ADDR: apiIp,
  };

  // Pods: a level-based sync loop over the pods bound to this node.
  const runners = new Map<string, PodRunner>();
  const stopping = new Map<string, Promise<void>>();
  const ips = new Map<string, string>();
  const allocateIp = (uid: string): string => {
    const used = new Set(ips.values());
    const prefix = net.podCidr.replace(/\.0\/24$/, '.');
    for (let i = 2; i < 255; i++) {
      const ip = `${prefix}${i}`;
      if (!used.has(ip)) {
        ips.set(uid, ip);
        return ip;
      }
    }
    throw new Error('the test node ran out of pod addresses');
  };
  const lastWritten = new Map<string, string>();
  const writeStatus = async (pod: V1Pod, runner: PodRunner) => {
    const status = runner.status();
    const key = JSON.stringify({ ...status, conditions: status.conditions?.map((c) => ({ ...c, lastTransitionTime: undefined })) });
    if (lastWritten.get(pod.metadata!.uid!) === key) return;
    try {
      const updated = await core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body: { status } }, mergePatch);
      runner.update(updated);
      lastWritten.set(pod.metadata!.uid!, key);
    } catch {
      // The next sync writes it again.
    }
  };

  // One stop per pod: a pod that is already stopping returns the stop in flight.
  const stopPod = (uid: string, grace: number): Promise<void> => {
    const inFlight = stopping.get(uid);
    if (inFlight) return inFlight;
    const runner = runners.get(uid);
    if (!runner) return Promise.resolve();
    const done = runner.stop(grace)
      .catch((e: Error) => log(`Failed to clean up pod ${uid}: ${e.message}`))
      .then(() => {
        runners.delete(uid);
        ips.delete(uid);
        lastWritten.delete(uid);
        stopping.delete(uid);
      });
    stopping.set(uid, done);
    return done;
  };
  // As the kubelet does: the object goes only once its containers are gone.
  const deletePodObject = (pod: V1Pod) =>
    core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid! } } }).catch(() => undefined);

  let running = true;
  const sync = async () => {
    const list = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` });
    const seen = new Set<string>();
    for (const pod of list.items) {
      const uid = pod.metadata!.uid!;
      seen.add(uid);
      const runner = runners.get(uid);
      if (pod.metadata?.deletionTimestamp) {
        if (stopping.has(uid)) continue; // the stop in flight deletes the object when it is done
        if (runner) void stopPod(uid, pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30).then(() => deletePodObject(pod));
        else await deletePodObject(pod);
        continue;
      }
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') {
        if (!runner) continue;
      }
      if (!runner) {
        const ip = pod.spec?.hostNetwork ? undefined : allocateIp(uid);
        const r = new PodRunner(pod, ip, {
          core,
          net,
          imageMap: options.imageMap,
          dir: join(podsDir, uid),
          appRoot: options.appRoot,
          ...(options.extraAppRoots ? { extraAppRoots: options.extraAppRoots } : {}),
          serviceEnv,
          dnsServer: net.hostAddress,
          log,
          onStatus: () => void writeStatus(pod, r),
        });
        runners.set(uid, r);
        log(`Starting pod ${pod.metadata?.namespace}/${pod.metadata?.name} at ${ip ?? net.nodeAddress}`);
        // First line only: client-node's messages embed response bodies and headers.
        r.start().catch((e: Error) => log(`Failed to start pod ${pod.metadata?.namespace}/${pod.metadata?.name}: ${e.message.split('\n')[0]}`));
      } else {
        runner.update(pod);
        await writeStatus(pod, runner);
      }
    }
    for (const uid of runners.keys()) if (!seen.has(uid)) void stopPod(uid, 0);
  };
  const loop = (async () => {
    let tick = 0;
    while (running) {
      await sync().catch((e: Error) => log(`Pod sync failed: ${e.message.split('\n')[0]}`));
      if (tick++ % 4 === 0) await refreshServices().catch(() => undefined);
      await sleep(250);
    }
  })();

  return {
    name,
    dnsServer: net.hostAddress,
    async stop() {
      running = false;
      clearInterval(heartbeat);
      await loop;
      await Promise.all([...runners.keys()].map((uid) => stopPod(uid, 2)));
      await dns.close();
      const exited = new Promise((r) => kubeProxy.once('exit', r));
      kubeProxy.kill('SIGTERM');
      const killer = setTimeout(() => kubeProxy.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
      rmSync(options.dir, { recursive: true, force: true });
      rmSync(podsDir, { recursive: true, force: true });
    },
  };
}
