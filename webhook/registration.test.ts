import { describe, expect, it } from '@jest/globals';
import { buildMutatingWebhookConfiguration } from './registration.js';

describe('buildMutatingWebhookConfiguration', () => {
  it('registers for pod CREATE of opted-in pods outside system namespaces, never blocking', () => {
    const c = buildMutatingWebhookConfiguration({ name: 'detour', clientConfig: { service: { namespace: 'detour-system', name: 'detour-webhook' } }, caBundlePem: 'PEM' });
    const w = c.webhooks[0]!;
    expect(w).toMatchObject({
      failurePolicy: 'Ignore', sideEffects: 'None', reinvocationPolicy: 'IfNeeded', admissionReviewVersions: ['v1'],
      objectSelector: { matchLabels: { 'detour.dev/inject': 'true' } },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
      clientConfig: { service: { namespace: 'detour-system', name: 'detour-webhook', port: 443, path: '/mutate' }, caBundle: Buffer.from('PEM').toString('base64') },
    });
    expect(w.timeoutSeconds).toBeLessThanOrEqual(10);
    expect(w.namespaceSelector).toEqual({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', 'detour-system'] }] });
  });

  it('registers by URL, and leaves caBundle to cert-manager when asked', () => {
    const c = buildMutatingWebhookConfiguration({ name: 'detour', clientConfig: { url: 'https://127.0.0.1:9443/mutate' }, certManagerCertificate: 'detour-system/detour-webhook' });
    expect(c.webhooks[0]!.clientConfig).toEqual({ url: 'https://127.0.0.1:9443/mutate' });
    expect(c.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'detour-system/detour-webhook' });
  });
});

describe('Intercept admission registration', () => {
  it('adds intercepts.detour.dev: CREATE/UPDATE of Intercepts, failurePolicy Fail, the operator left out', () => {
    const c = buildMutatingWebhookConfiguration({
      name: 'detour', clientConfig: { service: { namespace: 'detour-system', name: 'detour-webhook' } },
      interceptAdmission: { operatorUsername: 'system:serviceaccount:detour-system:detour-operator' },
    });
    expect(c.webhooks).toHaveLength(2);
    expect(c.webhooks[0]!.failurePolicy).toBe('Ignore');
    expect(c.webhooks[1]).toMatchObject({
      name: 'intercepts.detour.dev', failurePolicy: 'Fail', sideEffects: 'None', reinvocationPolicy: 'Never',
      rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['detour.dev'], resources: ['intercepts'] }],
      clientConfig: { service: { namespace: 'detour-system', name: 'detour-webhook', port: 443, path: '/intercepts' } },
      matchConditions: [{ name: 'not-the-operator', expression: "request.userInfo.username != 'system:serviceaccount:detour-system:detour-operator'" }],
    });
    expect(c.webhooks[1]!.objectSelector).toBeUndefined();
    expect(c.webhooks[1]!.namespaceSelector).toBeUndefined();
  });

  it('by URL, the path becomes /intercepts', () => {
    const c = buildMutatingWebhookConfiguration({ name: 'x', clientConfig: { url: 'https://127.0.0.1:9443/mutate' }, interceptAdmission: {} });
    expect(c.webhooks[1]!.clientConfig).toEqual({ url: 'https://127.0.0.1:9443/intercepts' });
    expect(c.webhooks[1]!.matchConditions).toBeUndefined();
  });
});
