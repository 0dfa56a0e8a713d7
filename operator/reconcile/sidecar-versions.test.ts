import { describe, expect, it } from '@jest/globals';
import { INJECTED_ANNOTATION, SIDECAR_CONTAINER } from '../../core/constants.js';
import type { WorkloadRef } from '../../core/workload-ref.js';
import { planSidecarVersions, type SidecarVersions } from './sidecar-versions.js';
import type { Pod } from './workload.js';

const workload: WorkloadRef = { kind: 'Deployment', namespace: 'shop', name: 'checkout' };

/** A pod injected by a webhook of `version` (0.1.x records only name the image). */
function pod(name: string, version: string | undefined, over: { image?: string; deleted?: boolean; phase?: string; sidecar?: boolean } = {}): Pod {
  const record = { version: 1, sidecar: SIDECAR_CONTAINER, native: true, workload: 'Deployment/checkout', ports: [], renamed: [], redirected: [], adminPort: 15020, tunnelPort: 15021, image: over.image ?? 'ghcr.io/detour-dev/detour:test', ...(version ? { sidecarVersion: version } : {}) };
  return {
    metadata: { name, namespace: 'shop', annotations: over.sidecar === false ? {} : { [INJECTED_ANNOTATION]: JSON.stringify(record) }, ...(over.deleted ? { deletionTimestamp: '2026-12-01T00:00:00Z' } : {}) },
    spec: { containers: [{ name: 'app' }], initContainers: over.sidecar === false ? [] : [{ name: SIDECAR_CONTAINER }] },
    status: { phase: over.phase ?? 'Running' },
  };
}

describe('planSidecarVersions (operator 0.2.0)', () => {
  it.each<[string, Pod[], Partial<SidecarVersions>, RegExp]>([
    ['all current', [pod('a', '0.2.0'), pod('b', '0.2.1')], { status: 'True', reason: 'SidecarsCurrent' }, /^2 sidecars of Deployment\/checkout run Detour 0\.2\.x/],
    ['N−1 from a 0.1 record (the image tag): supported, replaced on restart', [pod('a', '0.2.0'), pod('b', undefined, { image: 'ghcr.io/detour-dev/detour:0.1.0' })], { status: 'True', reason: 'PreviousSidecars' }, /1 of 2 sidecars .* previous release \(b \(0\.1\.0\)\), which this operator \(Detour 0\.2\.0\) still serves; they get 0\.2\.x when their pods restart/],
    ['older than N−1: False with the pod names and the restart', [pod('z-old', '0.0.9'), pod('a', '0.2.0'), pod('b-old', '0.0.3')], { status: 'False', reason: 'SidecarTooOld', pods: { older: ['b-old', 'z-old'], current: ['a'], previous: [], newer: [], unknown: [] } }, /2 pods of Deployment\/checkout run a sidecar older .*: b-old \(0\.0\.3\), z-old \(0\.0\.9\)\. Only a restart replaces a sidecar: kubectl rollout restart deployment\/checkout -n shop/],
    ['newer than the operator (after a rollback): False, upgrade the operator', [pod('a', '0.3.0')], { status: 'False', reason: 'SidecarNewerThanOperator' }, /Upgrade the operator/],
    ['too old wins over newer', [pod('a', '0.3.0'), pod('b', '0.0.1')], { reason: 'SidecarTooOld' }, /b \(0\.0\.1\)/],
    ['unknown versions do not decide, and are said', [pod('a', '0.2.0'), pod('b', undefined, { image: 'ghcr.io/detour-dev/detour@sha256:ab' })], { status: 'True', reason: 'SidecarsCurrent' }, /1 pod without a recorded sidecar version \(b\)/],
    ['only unknown', [pod('b', undefined)], { status: 'Unknown', reason: 'VersionsUnknown' }, /1 pod of Deployment\/checkout without/],
    ['deleted, finished and uninjected pods do not count', [pod('a', '0.0.1', { deleted: true }), pod('b', '0.0.1', { phase: 'Succeeded' }), pod('c', undefined, { sidecar: false })], { status: 'Unknown', reason: 'NoSidecars' }, /no pod of Deployment\/checkout carries a sidecar yet/],
  ])('%s', (_, pods, want, message) => {
    const got = planSidecarVersions(pods, '0.2.0', workload);
    expect(got).toMatchObject(want);
    expect(got.message).toMatch(message);
  });

  it('a bare ReplicaSet: delete the pods', () => {
    expect(planSidecarVersions([pod('rs-1', '0.0.1')], '0.2.0', { ...workload, kind: 'ReplicaSet' }).message).toContain('kubectl delete pod -n shop rs-1');
  });
});
