// A whole local cluster: the node network, the control plane (API server on the node network's
// host address, so pods reach it through the `kubernetes` Service) and the test node. Several can
// run side by side (npm test while `npm run cluster:up` runs): each claims its own number K.
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './controlplane/start-control-plane.js';
import { defaultImageMap, type ImageMap } from './node/images.js';
import { findRelease, releasesDir } from './node/releases.js';
import { createNodeNetwork, deleteNodeNetwork, planNodeNetwork, type NodeNetwork } from './node/network.js';
import { startTestNode, type TestNode } from './node/start-test-node.js';

const CLAIMS = '/run/detour/clusters';

export interface LocalClusterOptions extends Omit<ControlPlaneOptions, 'bindAddress' | 'advertiseAddress' | 'serviceClusterIpRange' | 'endpointReconciler'> {
  repoRoot: string;
  imageMap?: ImageMap;
}

export interface LocalCluster {
  plane: ControlPlane;
  node: TestNode;
  net: NodeNetwork;
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes the namespaces, routes and processes of clusters whose owner died, and returns their numbers. */
export async function cleanupLeftoverClusters(): Promise<number[]> {
  mkdirSync(CLAIMS, { recursive: true });
  const cleaned: number[] = [];
  for (const f of readdirSync(CLAIMS)) {
    const index = Number(f);
    if (!Number.isInteger(index)) continue;
    const owner = Number(readFileSync(join(CLAIMS, f), 'utf8'));
    if (alive(owner)) continue;
    await deleteNodeNetwork(index);
    rmSync(join(CLAIMS, f), { force: true });
    cleaned.push(index);
  }
  return cleaned;
}

async function claimIndex(): Promise<number> {
  await cleanupLeftoverClusters();
  for (let k = 1; k <= 250; k++) {
    try {
      writeFileSync(join(CLAIMS, String(k)), String(process.pid), { flag: 'wx' });
      return k;
    } catch {
      // taken
    }
  }
  throw new Error('no free local cluster number');
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  if (process.getuid?.() !== 0) throw new Error('the test node needs root (network namespaces, iptables)');
  const log = options.log ?? (() => {});
  const index = await claimIndex();
  const net = planNodeNetwork(index);
  const release = async () => {
    await deleteNodeNetwork(index);
    rmSync(join(CLAIMS, String(index)), { force: true });
  };
  try {
    await deleteNodeNetwork(index);
    log(`Creating the node network (cluster ${index}: pods ${net.podCidr}, services ${net.serviceCidr})`);
    await createNodeNetwork(net);
    const plane = await startControlPlane({
      ...options,
      bindAddress: net.hostAddress,
      advertiseAddress: net.hostAddress,
      serviceClusterIpRange: net.serviceCidr,
      endpointReconciler: 'lease',
    });
    let node: TestNode;
    try {
      log('Starting the test node');
      node = await startTestNode({
        kubeConfig: plane.kubeConfig,
        kubeconfigPath: plane.kubeconfigPath,
        kubeProxyBinary: plane.binaries['kube-proxy'],
        net,
        imageMap: options.imageMap ?? defaultImageMap(options.repoRoot, process.execPath, (version) => findRelease(releasesDir(), version)),
        appRoot: options.repoRoot,
        extraAppRoots: [releasesDir()],
        dir: join(plane.dir, 'node'),
        log,
      });
    } catch (err) {
      await plane.stop();
      throw err;
    }
    return {
      plane,
      node,
      net,
      async stop() {
        await node.stop().catch((e: Error) => log(`Stopping the test node failed: ${e.message}`));
        await plane.stop();
        await release();
      },
    };
  } catch (err) {
    await release();
    throw err;
  }
}
