import { describe, expect, it } from '@jest/globals';
import { describeBypass, planServiceBypass, type Service, type ServicePort } from './service-bypass.js';
import type { PodTemplate } from './workload.js';

const template = (annotations: Record<string, string> = {}): PodTemplate => ({
  metadata: { labels: { app: 'checkout', tier: 'web' }, annotations },
  spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] },
});
const svc = (name: string, ports: ServicePort[], selector: Record<string, string> | null = { app: 'checkout' }): Service => ({ metadata: { name, namespace: 'shop' }, spec: { selector, ports } });

describe('planServiceBypass', () => {
  it.each<[string, Service[], PodTemplate, string | number, string[]]>([
    ['targetPort by name reaches the sidecar', [svc('checkout', [{ name: 'web', port: 80, targetPort: 'http' }])], template(), 'http', []],
    ['targetPort by number bypasses it', [svc('checkout', [{ name: 'web', port: 80, targetPort: 8080 }])], template(), 'http', ['checkout web 8080']],
    ['no targetPort: defaults to the port number', [svc('checkout', [{ port: 8080 }])], template(), 'http', ['checkout 8080 8080']],
    ['targetPort naming the renamed app port bypasses it', [svc('checkout', [{ name: 'web', port: 80, targetPort: 'dt-http' }])], template(), 'http', ['checkout web dt-http']],
    ['another port number is not the Intercept\'s port', [svc('checkout', [{ name: 'metrics', port: 9090, targetPort: 9090 }])], template(), 'http', []],
    ['the iptables opt-in covers the number', [svc('checkout', [{ port: 80, targetPort: 8080 }])], template({ 'detour.dev/iptables': '8080' }), 'http', []],
    ['the iptables opt-in for another number does not', [svc('checkout', [{ port: 80, targetPort: 8080 }])], template({ 'detour.dev/iptables': '9000' }), 'http', ['checkout 80 8080']],
    ['a Service selecting other pods is not looked at', [svc('cart', [{ port: 80, targetPort: 8080 }], { app: 'cart' })], template(), 'http', []],
    ['a selector with more labels than the pods have does not select them', [svc('x', [{ port: 80, targetPort: 8080 }], { app: 'checkout', tier: 'db' })], template(), 'http', []],
    ['a selector subset of the labels selects them', [svc('web', [{ port: 80, targetPort: 8080 }], { tier: 'web' })], template(), 'http', ['web 80 8080']],
    ['a Service without selector (manual endpoints) is not looked at', [svc('ext', [{ port: 80, targetPort: 8080 }], null)], template(), 'http', []],
    ['UDP ports are not looked at', [svc('dns', [{ port: 8080, targetPort: 8080, protocol: 'UDP' }])], template(), 'http', []],
    ['a numeric Intercept port (needs iptables) is not judged here', [svc('checkout', [{ port: 80, targetPort: 8080 }])], template(), 8080, []],
    ['several Services, sorted', [svc('b', [{ port: 80, targetPort: 8080 }]), svc('a', [{ name: 'x', port: 81, targetPort: 8080 }, { name: 'ok', port: 82, targetPort: 'http' }])], template(), 'http', ['a x 8080', 'b 80 8080']],
  ])('%s', (_n, services, t, port, expected) => {
    expect(planServiceBypass(services, t, port, 8080).map((b) => `${b.service} ${b.servicePort} ${b.targetPort}`)).toEqual(expected);
  });

  it('says which Service and port, and both fixes', () => {
    const bypass = planServiceBypass([svc('checkout', [{ name: 'web', port: 80, targetPort: 8080 }])], template(), 'http', 8080);
    expect(describeBypass(bypass, 'http', 8080, 'Deployment/checkout')).toBe(
      'Service checkout port web (targetPort: 8080) sends traffic straight to the app, past the sidecar, so matching requests through it never reach a developer: set targetPort: http (the port\'s name), or add the annotation detour.dev/iptables: "8080" to the pod template of Deployment/checkout',
    );
  });
});
