import { describe, expect, it } from '@jest/globals';
import { planBinaryPaths } from './binaries.js';

describe('planBinaryPaths', () => {
  const only = (...present: string[]) => (p: string) => present.includes(p);

  it('prefers KUBEBUILDER_ASSETS and takes the rest from the build cache', () => {
    const { paths, missing } = planBinaryPaths('/assets', '/cache', only('/assets/etcd', '/assets/kube-apiserver', '/cache/etcd', '/cache/kube-apiserver', '/cache/kube-controller-manager', '/cache/kube-scheduler', '/cache/kube-proxy', '/cache/kubectl', '/cache/helm'));
    expect(missing).toEqual([]);
    expect(paths.etcd).toBe('/assets/etcd');
    expect(paths['kube-apiserver']).toBe('/assets/kube-apiserver');
    expect(paths['kube-scheduler']).toBe('/cache/kube-scheduler');
  });

  it('names what is missing when nothing provides it', () => {
    const { missing } = planBinaryPaths('/assets', undefined, only('/assets/etcd'));
    expect(missing).toContain('kube-apiserver');
    expect(missing).not.toContain('etcd');
  });
});
