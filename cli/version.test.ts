import { describe, expect, it } from '@jest/globals';
import { buildVersionReport, type ClusterVersions } from './version.js';

const cluster = (over: Partial<ClusterVersions> = {}): ClusterVersions => ({
  context: 'kind-dev', namespace: 'shop', intercepts: 2,
  operators: [{ version: '0.2.0', intercept: 'alice-checkout' }],
  workloads: [{ workload: 'Deployment/checkout', intercepts: ['alice-checkout', 'bob-checkout'], pods: [{ name: 'checkout-b', version: '0.2.0' }, { name: 'checkout-a', version: '0.1.0' }, { name: 'checkout-c', version: '0.1.0' }] }],
  ...over,
});

describe('buildVersionReport (CLI 0.2.0)', () => {
  it('without a cluster (--client)', () => {
    expect(buildVersionReport({ cli: '0.2.0' })).toBe('CLI:       0.2.0');
  });

  it('when the cluster cannot be reached, says so and why', () => {
    expect(buildVersionReport({ cli: '0.2.0', clusterError: 'connect ECONNREFUSED 127.0.0.1:6443' })).toBe('CLI:       0.2.0\nCluster:   not reached (connect ECONNREFUSED 127.0.0.1:6443)');
  });

  it('with a cluster: the operator and the sidecars per workload, grouped by version', () => {
    expect(buildVersionReport({ cli: '0.2.0', cluster: cluster() }).split('\n')).toEqual([
      'CLI:       0.2.0',
      'Cluster:   context kind-dev, namespace shop',
      'Operator:  0.2.0 (status of Intercept alice-checkout)',
      'Sidecars:  Deployment/checkout (Intercepts alice-checkout, bob-checkout):',
      '  0.1.0 (previous release: supported): checkout-a, checkout-c',
      '  0.2.0: checkout-b',
    ]);
  });

  it.each<[string, Partial<ClusterVersions>, RegExp]>([
    ['a sidecar older than N−1: restart', { workloads: [{ workload: 'Deployment/checkout', intercepts: ['a'], pods: [{ name: 'p', version: '0.0.5' }] }] }, /0\.0\.5 \(older than this CLI supports: restart the pods/],
    ['a sidecar newer than the CLI: upgrade the CLI', { workloads: [{ workload: 'Deployment/checkout', intercepts: ['a'], pods: [{ name: 'p', version: '0.3.1' }] }] }, /0\.3\.1 \(newer than this CLI: upgrade the CLI to 0\.3\.x\): p/],
    ['an operator newer than the CLI', { operators: [{ version: '0.3.0', intercept: 'a' }] }, /Operator: +0\.3\.0 \(newer than this CLI: upgrade the CLI to 0\.3\.x\)/],
    ['an operator of 0.1 (it writes no version)', { operators: [] }, /Operator: +unknown \(no Intercept status names it: an operator older than 0\.2\.0, or none running\)/],
    ['no Intercepts', { operators: [], intercepts: 0, workloads: [] }, /Operator: +unknown \(no Intercept in namespace shop to read it from\)/],
    ['a 0.1 record with a digest image', { workloads: [{ workload: 'Deployment/checkout', intercepts: ['a'], pods: [{ name: 'p' }] }] }, /^ {2}unrecorded: p$/m],
    ['pods not readable', { workloads: [{ workload: 'Deployment/checkout', intercepts: ['a'], pods: [], error: 'pods is forbidden' }] }, /Deployment\/checkout \(Intercept a\): not read \(pods is forbidden\)/],
  ])('%s', (_, over, line) => expect(buildVersionReport({ cli: '0.2.0', cluster: cluster(over) })).toMatch(line));
});
