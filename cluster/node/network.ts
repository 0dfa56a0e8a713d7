// Network plumbing of the test node (root only). Each local cluster number K gets:
//   - a node network namespace `dtnodeK`, linked to the root namespace by a veth pair
//     (root side `dtnodeK` 10.243.K.1/30, node side `uplink` 10.243.K.2/30). kube-proxy's iptables
//     rules live only in the node namespace, so several local clusters never touch each other's
//     rules, and deleting the namespace removes them all;
//   - one network namespace per pod `dtpK-<uid8>` with `eth0` 10.244.K.N/32, a veth to the node
//     namespace, and a default route via the node address. The node namespace has no default
//     route, so pod traffic can only reach pods, services and the root side: nothing leaves the
//     machine;
//   - in the root namespace, routes for the pod range 10.244.K.0/24 and the service range
//     10.96.K.0/24 via the node namespace (nothing else changes there).
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { sleep } from '../../core/sleep.js';

const exec = promisify(execFile);

export interface NodeNetwork {
  index: number;
  /** Root-namespace address: the API server and the DNS resolver bind here. */
  hostAddress: string;
  /** Address of the node namespace (the Node's InternalIP, the pods' gateway). */
  nodeAddress: string;
  nodeNamespace: string;
  podCidr: string;
  serviceCidr: string;
}

export interface PodNetwork {
  namespace: string;
  ip: string;
  hostVeth: string;
}

/** Pod volumes and container logs of cluster `index` (removed with its network). */
export function nodeStateDir(index: number): string {
  return `/run/detour/node-${index}`;
}

export function planNodeNetwork(index: number): NodeNetwork {
  if (!Number.isInteger(index) || index < 1 || index > 250) throw new Error(`cluster index out of range: ${index}`);
  return {
    index,
    hostAddress: `10.243.${index}.1`,
    nodeAddress: `10.243.${index}.2`,
    nodeNamespace: `dtnode${index}`,
    podCidr: `10.244.${index}.0/24`,
    serviceCidr: `10.96.${index}.0/24`,
  };
}

/** Names of a pod's network namespace and node-side veth (at most 15 characters). */
export function planPodNetworkNames(index: number, podUid: string): { namespace: string; hostVeth: string } {
  const id = podUid.replace(/-/g, '').slice(0, 8);
  return { namespace: `dtp${index}-${id}`, hostVeth: `dp${index}-${id}` };
}

export async function run(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

async function tryRun(cmd: string, args: string[]): Promise<void> {
  await run(cmd, args).catch(() => undefined);
}

export async function listNetns(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']).catch(() => '');
  return out.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

/** Creates the node namespace, the uplink and the root-namespace routes. */
export async function createNodeNetwork(net: NodeNetwork): Promise<void> {
  const ns = net.nodeNamespace;
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', ns, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', ns]);
  await run('ip', ['addr', 'add', `${net.hostAddress}/30`, 'dev', ns]);
  await run('ip', ['link', 'set', ns, 'up']);
  const inNode = (...args: string[]) => run('ip', ['netns', 'exec', ns, ...args]);
  await inNode('ip', 'link', 'set', 'lo', 'up');
  await inNode('ip', 'addr', 'add', `${net.nodeAddress}/30`, 'dev', 'uplink');
  await inNode('ip', 'link', 'set', 'uplink', 'up');
  await inNode('sysctl', '-qw', 'net.ipv4.ip_forward=1');
  await inNode('sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0');
  await inNode('sysctl', '-qw', 'net.ipv4.conf.default.rp_filter=0');
  // Packets to a pod address without a pod, or an unserved service address, end here.
  await inNode('ip', 'route', 'add', 'unreachable', net.podCidr);
  await inNode('ip', 'route', 'add', 'unreachable', net.serviceCidr);
  await run('ip', ['route', 'add', net.podCidr, 'via', net.nodeAddress, 'dev', ns]);
  await run('ip', ['route', 'add', net.serviceCidr, 'via', net.nodeAddress, 'dev', ns]);
}

/** Removes everything createNodeNetwork and createPodNetwork made for cluster `index` (also after a crash). */
export async function deleteNodeNetwork(index: number): Promise<void> {
  const net = planNodeNetwork(index);
  for (const ns of await listNetns()) {
    if (ns.startsWith(`dtp${index}-`) || ns === net.nodeNamespace) await killNamespaceProcesses(ns);
  }
  for (const ns of await listNetns()) {
    if (ns.startsWith(`dtp${index}-`)) await tryRun('ip', ['netns', 'del', ns]);
  }
  await tryRun('ip', ['route', 'del', net.podCidr]);
  await tryRun('ip', ['route', 'del', net.serviceCidr]);
  await tryRun('ip', ['link', 'del', net.nodeNamespace]);
  await tryRun('ip', ['netns', 'del', net.nodeNamespace]);
  rmSync(nodeStateDir(index), { recursive: true, force: true });
}

/** True while the process exists and has not exited (a zombie has exited; it only awaits its reaper). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** SIGKILLs every process in the namespace and waits (up to 5 s) until none of them runs any more. */
export async function killNamespaceProcesses(ns: string): Promise<void> {
  const out = await run('ip', ['netns', 'pids', ns]).catch(() => '');
  const pids = out.split('\n').map(Number).filter((n) => n > 0);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (let i = 0; i < 100 && pids.some(running); i++) await sleep(50);
}

export async function createPodNetwork(net: NodeNetwork, podUid: string, ip: string): Promise<PodNetwork> {
  const { namespace, hostVeth } = planPodNetworkNames(net.index, podUid);
  await tryRun('ip', ['netns', 'del', namespace]);
  await run('ip', ['netns', 'add', namespace]);
  await run('ip', ['link', 'add', hostVeth, 'netns', net.nodeNamespace, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
  const inPod = (...args: string[]) => run('ip', ['netns', 'exec', namespace, ...args]);
  const inNode = (...args: string[]) => run('ip', ['netns', 'exec', net.nodeNamespace, ...args]);
  await inPod('ip', 'link', 'set', 'lo', 'up');
  await inPod('ip', 'addr', 'add', `${ip}/32`, 'dev', 'eth0');
  await inPod('ip', 'link', 'set', 'eth0', 'up');
  await inPod('ip', 'route', 'add', net.nodeAddress, 'dev', 'eth0', 'scope', 'link', 'src', ip);
  await inPod('ip', 'route', 'add', 'default', 'via', net.nodeAddress, 'dev', 'eth0', 'src', ip);
  await inNode('ip', 'link', 'set', hostVeth, 'up');
  // replace, not add: the kernel frees a deleted pod's namespace (and its veth and route) lazily,
  // so a reused address can still have a route to the old veth for a moment.
  await inNode('ip', 'route', 'replace', `${ip}/32`, 'dev', hostVeth, 'src', net.nodeAddress);
  return { namespace, ip, hostVeth };
}

export async function deletePodNetwork(pod: PodNetwork): Promise<void> {
  await killNamespaceProcesses(pod.namespace);
  await tryRun('ip', ['netns', 'del', pod.namespace]);
}
