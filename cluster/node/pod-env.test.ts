import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { buildContainerEnv, envReferences, expandVars } from './pod-env.js';

const pod: V1Pod = {
  metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1', labels: { app: 'web' } },
  spec: { nodeName: 'n1', serviceAccountName: 'sa', containers: [] },
};
const info = { podIp: '10.244.1.5', hostIp: '10.243.1.2', serviceEnv: { KUBERNETES_SERVICE_HOST: '10.96.1.1' } };

describe('buildContainerEnv', () => {
  it('resolves values, fieldRefs, ConfigMap and Secret keys, envFrom with prefix, and $(VAR) expansion', () => {
    const result = buildContainerEnv(pod, {
      name: 'app',
      envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CFG_' }],
      env: [
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
        { name: 'GREETING', value: 'hello $(POD_NAME) $$(POD_NAME)' },
      ],
    }, info, { configMaps: { cfg: { MODE: 'fast' } }, secrets: { db: { password: 's3cret' } } });
    expect(result).toEqual({
      env: expect.objectContaining({
        POD_NAME: 'web-1', POD_IP: '10.244.1.5', APP: 'web', PASSWORD: 's3cret', CFG_MODE: 'fast',
        GREETING: 'hello web-1 $(POD_NAME)', KUBERNETES_SERVICE_HOST: '10.96.1.1', HOSTNAME: 'web-1',
      }),
    });
  });

  it('refuses to start a container whose required Secret key is missing, and skips optional ones', () => {
    const missing = buildContainerEnv(pod, { name: 'a', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } }] }, info, { configMaps: {}, secrets: {} });
    expect(missing).toEqual({ error: "couldn't find key k in Secret shop/nope" });
    const optional = buildContainerEnv(pod, { name: 'a', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'k', optional: true } } }] }, info, { configMaps: {}, secrets: {} });
    expect('env' in optional && optional.env.X).toBeUndefined();
  });

  it('lists what to look up', () => {
    expect(envReferences({ name: 'a', envFrom: [{ secretRef: { name: 's1' } }], env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'c1', key: 'k' } } }] })).toEqual({ configMaps: ['c1'], secrets: ['s1'] });
  });

  it('leaves unknown $(VAR) references as written', () => {
    expect(expandVars('$(NOPE)-$(A)', { A: 'a' })).toBe('$(NOPE)-a');
  });
});
