// The pod status the test node writes back, computed from its containers' states. Pure.
import type { V1ContainerStatus, V1Pod, V1PodCondition, V1PodStatus } from '@kubernetes/client-node';

export type ContainerPhase =
  | { kind: 'waiting'; reason: string; message?: string }
  | { kind: 'running'; startedAt: Date }
  | { kind: 'terminated'; exitCode: number; reason: string; message?: string; startedAt?: Date; finishedAt: Date };

export interface ContainerRuntimeState {
  name: string;
  image: string;
  phase: ContainerPhase;
  ready: boolean;
  restartCount: number;
  /** Init containers with restartPolicy Always (native sidecars) keep running. */
  sidecar?: boolean;
  lastTerminated?: { exitCode: number; reason: string; finishedAt: Date };
}

export interface PodStatusInput {
  pod: V1Pod;
  podIp?: string;
  hostIp: string;
  startTime: Date;
  init: ContainerRuntimeState[];
  main: ContainerRuntimeState[];
  now: Date;
}

function toContainerStatus(c: ContainerRuntimeState): V1ContainerStatus {
  const p = c.phase;
  const state =
    p.kind === 'running' ? { running: { startedAt: p.startedAt } }
    : p.kind === 'waiting' ? { waiting: { reason: p.reason, message: p.message } }
    : { terminated: { exitCode: p.exitCode, reason: p.reason, message: p.message, startedAt: p.startedAt, finishedAt: p.finishedAt } };
  return {
    name: c.name,
    image: c.image,
    imageID: `detour-test-node://${c.image}`,
    containerID: `detour-test-node://${c.name}`,
    ready: c.ready,
    started: p.kind === 'running',
    restartCount: c.restartCount,
    state,
    ...(c.lastTerminated ? { lastState: { terminated: { exitCode: c.lastTerminated.exitCode, reason: c.lastTerminated.reason, finishedAt: c.lastTerminated.finishedAt } } } : {}),
  };
}

export function podPhase(input: PodStatusInput): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  const policy = input.pod.spec?.restartPolicy ?? 'Always';
  const initFailed = input.init.some((c) => !c.sidecar && c.phase.kind === 'terminated' && c.phase.exitCode !== 0) && policy === 'Never';
  if (initFailed) return 'Failed';
  const everStarted = input.main.length > 0 && input.main.every((c) => c.phase.kind !== 'waiting' || c.restartCount > 0);
  if (!everStarted) return 'Pending';
  const allTerminated = input.main.every((c) => c.phase.kind === 'terminated');
  if (allTerminated && policy !== 'Always') {
    const ok = input.main.every((c) => c.phase.kind === 'terminated' && c.phase.exitCode === 0);
    if (ok) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
  }
  return 'Running';
}

export function buildPodStatus(input: PodStatusInput): V1PodStatus {
  const previous = input.pod.status?.conditions ?? [];
  const cond = (type: string, ok: boolean, reason?: string, message?: string): V1PodCondition => {
    const status = ok ? 'True' : 'False';
    const prev = previous.find((c) => c.type === type);
    return {
      type,
      status,
      lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : input.now,
      lastProbeTime: undefined,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    };
  };
  const initialized = input.init.every((c) => (c.sidecar ? c.phase.kind === 'running' : c.phase.kind === 'terminated' && c.phase.exitCode === 0));
  const all = [...input.init.filter((c) => c.sidecar), ...input.main];
  const notReady = all.filter((c) => !c.ready).map((c) => c.name);
  const ready = initialized && notReady.length === 0 && input.main.length > 0;
  const readyMessage = notReady.length > 0 ? `containers with unready status: [${notReady.join(' ')}]` : undefined;
  return {
    phase: podPhase(input),
    hostIP: input.hostIp,
    hostIPs: [{ ip: input.hostIp }],
    ...(input.podIp ? { podIP: input.podIp, podIPs: [{ ip: input.podIp }] } : {}),
    startTime: input.startTime,
    qosClass: input.pod.status?.qosClass ?? 'BestEffort',
    conditions: [
      cond('PodReadyToStartContainers', input.podIp !== undefined),
      cond('Initialized', initialized, initialized ? undefined : 'ContainersNotInitialized'),
      cond('Ready', ready, ready ? undefined : 'ContainersNotReady', ready ? undefined : readyMessage),
      cond('ContainersReady', ready, ready ? undefined : 'ContainersNotReady', ready ? undefined : readyMessage),
      cond('PodScheduled', true),
    ],
    initContainerStatuses: input.init.map(toContainerStatus),
    containerStatuses: input.main.map(toContainerStatus),
  };
}
