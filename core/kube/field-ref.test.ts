import { describe, expect, it } from '@jest/globals';
import { resolveFieldRef } from './field-ref.js';

const pod = {
  metadata: { name: 'web-1', namespace: 'shop', uid: 'u1', labels: { app: 'web' }, annotations: { 'detour.dev/inject': 'true' } },
  spec: { nodeName: 'n1', serviceAccountName: 'sa' },
  status: { podIP: '10.244.1.5', hostIP: '10.243.1.2' },
};

describe('resolveFieldRef', () => {
  it.each([
    ['metadata.name', 'web-1'],
    ['metadata.namespace', 'shop'],
    ["metadata.labels['app']", 'web'],
    ["metadata.annotations['detour.dev/inject']", 'true'],
    ["metadata.labels['missing']", undefined],
    ['spec.serviceAccountName', 'sa'],
    ['status.podIP', '10.244.1.5'],
    ['status.hostIPs', '10.243.1.2'],
    ['spec.containers', undefined],
  ])('%s → %s', (path, value) => expect(resolveFieldRef(pod, path)).toBe(value));
});
