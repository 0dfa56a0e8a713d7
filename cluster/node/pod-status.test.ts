import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { buildPodStatus, type ContainerRuntimeState } from './pod-status.js';

const now = new Date('2026-01-01T00:00:10Z');
const started = new Date('2026-01-01T00:00:00Z');
const pod = (restartPolicy = 'Always'): V1Pod => ({ metadata: { name: 'p' }, spec: { restartPolicy, containers: [] } });
const running = (name: string, ready: boolean, extra: Partial<ContainerRuntimeState> = {}): ContainerRuntimeState => ({ name, image: 'detour/echo', phase: { kind: 'running', startedAt: started }, ready, restartCount: 0, ...extra });
const condition = (s: ReturnType<typeof buildPodStatus>, type: string) => s.conditions?.find((c) => c.type === type);

describe('buildPodStatus', () => {
  it('is Running and Ready when every container (and native sidecar) is ready', () => {
    const s = buildPodStatus({ pod: pod(), podIp: '10.244.1.2', hostIp: '10.243.1.2', startTime: started, init: [running('sidecar', true, { sidecar: true })], main: [running('app', true)], now });
    expect(s.phase).toBe('Running');
    expect(condition(s, 'Ready')?.status).toBe('True');
    expect(s.podIP).toBe('10.244.1.2');
  });

  it('is Running but not Ready while a readiness probe fails, naming the container', () => {
    const s = buildPodStatus({ pod: pod(), podIp: '10.244.1.2', hostIp: 'h', startTime: started, init: [], main: [running('app', false)], now });
    expect(s.phase).toBe('Running');
    expect(condition(s, 'Ready')).toMatchObject({ status: 'False', message: 'containers with unready status: [app]' });
  });

  it('stays Pending with the reason when an image cannot run', () => {
    const s = buildPodStatus({ pod: pod(), podIp: '10.244.1.2', hostIp: 'h', startTime: started, init: [], main: [{ name: 'app', image: 'nginx', phase: { kind: 'waiting', reason: 'ErrImagePull', message: 'image nginx is not in the map' }, ready: false, restartCount: 0 }], now });
    expect(s.phase).toBe('Pending');
    expect(s.containerStatuses?.[0]?.state?.waiting).toEqual({ reason: 'ErrImagePull', message: 'image nginx is not in the map' });
  });

  it('is not Initialized until init containers completed', () => {
    const init: ContainerRuntimeState[] = [{ name: 'init', image: 'detour', phase: { kind: 'running', startedAt: started }, ready: false, restartCount: 0 }];
    const s = buildPodStatus({ pod: pod(), podIp: 'x', hostIp: 'h', startTime: started, init, main: [{ name: 'app', image: 'e', phase: { kind: 'waiting', reason: 'PodInitializing' }, ready: false, restartCount: 0 }], now });
    expect(condition(s, 'Initialized')?.status).toBe('False');
    expect(s.phase).toBe('Pending');
  });

  it('reports Succeeded and Failed for pods that do not restart', () => {
    const done = (exitCode: number): ContainerRuntimeState => ({ name: 'job', image: 'e', phase: { kind: 'terminated', exitCode, reason: exitCode ? 'Error' : 'Completed', finishedAt: now }, ready: false, restartCount: 0 });
    expect(buildPodStatus({ pod: pod('Never'), hostIp: 'h', startTime: started, init: [], main: [done(0)], now }).phase).toBe('Succeeded');
    expect(buildPodStatus({ pod: pod('Never'), hostIp: 'h', startTime: started, init: [], main: [done(2)], now }).phase).toBe('Failed');
  });

  it('keeps lastTransitionTime while a condition does not change', () => {
    const earlier = new Date('2025-12-31T00:00:00Z');
    const p = pod();
    p.status = { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: earlier }] };
    const s = buildPodStatus({ pod: p, podIp: 'x', hostIp: 'h', startTime: started, init: [], main: [running('app', true)], now });
    expect(condition(s, 'Ready')?.lastTransitionTime).toBe(earlier);
  });
});
