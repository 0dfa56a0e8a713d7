import { describe, expect, it } from '@jest/globals';
import { buildLabelSelector, buildTunnelUrl, diffReplicas, planReplicas, type PodJson } from './replicas.js';

const record = (workload: string, tunnelPort = 15021) => JSON.stringify({ version: 1, sidecar: 'detour-sidecar', native: true, workload, ports: [], renamed: [], redirected: [], adminPort: 15020, tunnelPort, image: 'x' });
const pod = (name: string, o: { workload?: string | null; phase?: string; ip?: string; ready?: boolean; deleting?: boolean; tunnelPort?: number; native?: boolean } = {}): PodJson => {
  const status = { name: 'detour-sidecar', ready: o.ready ?? true };
  return {
    metadata: {
      name, uid: `uid-${name}`,
      ...(o.workload === null ? {} : { annotations: { 'detour.dev/injected': record(o.workload ?? 'Deployment/checkout', o.tunnelPort) } }),
      ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}),
    },
    status: {
      phase: o.phase ?? 'Running', ...(o.ip === '' ? {} : { podIP: o.ip ?? `10.0.0.${name.length}` }),
      ...(o.native === false ? { containerStatuses: [status] } : { initContainerStatuses: [status], containerStatuses: [{ name: 'app', ready: false }] }),
    },
  };
};

describe('planReplicas', () => {
  it.each([
    ['a ready native sidecar (the app need not be ready)', [pod('a')], ['a'], []],
    ['a ready sidecar in spec.containers', [pod('a', { native: false })], ['a'], []],
    ['the tunnel port from the record', [pod('a', { tunnelPort: 15099 })], ['a:15099'], []],
    ['a pod without a sidecar', [pod('a', { workload: null })], [], ['a: no Detour sidecar (created before the opt-in)']],
    ['a pod of another workload sharing the labels', [pod('a', { workload: 'Deployment/other' })], [], []],
    ['a terminating pod', [pod('a', { deleting: true })], [], []],
    ['a pending pod', [pod('a', { phase: 'Pending', ip: '' })], [], ['a: pod Pending']],
    ['a sidecar not ready', [pod('a', { ready: false })], [], ['a: sidecar not ready yet']],
    ['sorted by name', [pod('b'), pod('a')], ['a', 'b'], []],
  ])('%s', (_n, pods, ready, notReady) => {
    const plan = planReplicas(pods, 'Deployment/checkout');
    expect(plan.ready.map((r) => (r.tunnelPort === 15021 ? r.pod : `${r.pod}:${r.tunnelPort}`))).toEqual(ready);
    expect(plan.notReady.map((n) => `${n.pod}: ${n.reason}`)).toEqual(notReady);
  });
});

describe('diffReplicas', () => {
  const r = (uid: string) => ({ pod: uid, uid, ip: '1', tunnelPort: 1 });
  it.each([
    [[], [r('a'), r('b')], ['a', 'b'], []],
    [['a', 'b'], [r('b'), r('c')], ['c'], ['a']],
    [['a'], [], [], ['a']],
    [['a'], [r('a')], [], []],
  ])('%j → %j', (current, desired, open, close) => {
    const d = diffReplicas(new Set(current), desired);
    expect(d.open.map((x) => x.uid)).toEqual(open);
    expect(d.close).toEqual(close);
  });
});

describe('buildTunnelUrl', () => {
  const replica = { pod: 'checkout-1', uid: 'u', ip: '10.244.1.5', tunnelPort: 15022 };
  it.each([
    [{ server: 'https://10.243.1.1:6443', namespace: 'shop', replica }, 'wss://10.243.1.1:6443/api/v1/namespaces/shop/pods/checkout-1:15022/proxy/tunnel'],
    [{ server: 'https://k8s.example.com/prefix/', namespace: 'shop', replica }, 'wss://k8s.example.com/prefix/api/v1/namespaces/shop/pods/checkout-1:15022/proxy/tunnel'],
    [{ server: 'http://127.0.0.1:8080', namespace: 'shop', replica }, 'ws://127.0.0.1:8080/api/v1/namespaces/shop/pods/checkout-1:15022/proxy/tunnel'],
    [{ server: 's', namespace: 'shop', replica, via: 'ws://{podIP}:{port}/tunnel' }, 'ws://10.244.1.5:15022/tunnel'],
    [{ server: 's', namespace: 'shop', replica, via: 'https://{pod}.{namespace}.tunnels.example.com/' }, 'wss://checkout-1.shop.tunnels.example.com/'],
    [{ server: 's', namespace: 'shop', via: 'wss://tunnel.example.com/checkout' }, 'wss://tunnel.example.com/checkout'],
  ])('%j', (o, url) => expect(buildTunnelUrl(o)).toBe(url));
});

describe('buildLabelSelector', () => {
  it.each([
    [{ matchLabels: { app: 'checkout', tier: 'web' } }, 'app=checkout,tier=web'],
    [{ matchLabels: { app: 'x' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['a', 'b'] }, { key: 'canary', operator: 'DoesNotExist' }, { key: 'z', operator: 'Exists' }, { key: 'y', operator: 'NotIn', values: ['q'] }] }, 'app=x,env in (a,b),!canary,z,y notin (q)'],
    [undefined, ''],
  ])('%j → %s', (sel, text) => expect(buildLabelSelector(sel)).toBe(text));
});
