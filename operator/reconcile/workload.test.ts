import { describe, expect, it } from '@jest/globals';
import { podsWithoutSidecar, resolvePort, type Pod, type PodTemplate } from './workload.js';

const template = (annotations: Record<string, string> = {}): PodTemplate => ({
  metadata: { annotations },
  spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9090 }] }] },
});

describe('resolvePort', () => {
  it.each<[string, PodTemplate, string | number, boolean, string | undefined]>([
    ['a named port the app declares', template(), 'http', true, undefined],
    ['a named port already renamed by the webhook', { spec: { containers: [{ name: 'app', ports: [{ name: 'dt-http', containerPort: 8080 }] }] } }, 'http', true, undefined],
    ['a name no container declares', template(), 'grpc', false, 'PortNotFound'],
    ['a number without the iptables opt-in', template(), 8080, false, 'NumericPortNeedsIptables'],
    ['a number with the iptables opt-in', template({ 'detour.dev/iptables': 'true' }), 8080, true, undefined],
    ['a number listed in the iptables port list (docs/webhook.md)', template({ 'detour.dev/iptables': '8080' }), 8080, true, undefined],
    ['a number among several listed', template({ 'detour.dev/iptables': '9000, 8080' }), 8080, true, undefined],
    ['a number the port list does not name', template({ 'detour.dev/iptables': '9000' }), 8080, false, 'NumericPortNeedsIptables'],
    ['a number with the opt-in switched off', template({ 'detour.dev/iptables': 'false' }), 8080, false, 'NumericPortNeedsIptables'],
  ])('%s', (_n, t, port, ok, reason) => {
    const r = resolvePort('Deployment/checkout', t, port);
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.reason).toBe(reason);
  });

  it('tells what to do when the port is missing', () => {
    const r = resolvePort('Deployment/checkout', template(), 'grpc');
    expect(!r.ok && r.message).toBe('no container of Deployment/checkout declares a port named "grpc"; its ports are http (8080), metrics (9090): set spec.port to one of them');
  });
});

describe('podsWithoutSidecar', () => {
  const pod = (name: string, containers: string[], extra: Partial<Pod['metadata']> = {}, phase = 'Running'): Pod => ({
    metadata: { name, ...extra },
    spec: { containers: containers.map((n) => ({ name: n })) },
    status: { phase },
  });
  it('lists live pods without a detour-sidecar container only', () => {
    const pods = [
      pod('with', ['app', 'detour-sidecar']),
      pod('without', ['app']),
      pod('terminating', ['app'], { deletionTimestamp: 'x' }),
      pod('done', ['app'], {}, 'Succeeded'),
      { metadata: { name: 'native-sidecar' }, spec: { containers: [{ name: 'app' }], initContainers: [{ name: 'detour-sidecar' }] } },
    ];
    expect(podsWithoutSidecar(pods).map((p) => p.metadata.name)).toEqual(['without']);
  });
});
