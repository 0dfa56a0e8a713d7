import { describe, expect, it } from '@jest/globals';
import { checkPort, pickContainer, type WorkloadJson } from './workload.js';

const w: WorkloadJson = {
  metadata: { name: 'checkout' },
  spec: { template: { spec: { containers: [
    { name: 'app', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9000 }] },
    { name: 'detour-sidecar', ports: [{ name: 'grpc', containerPort: 15080 }] },
    { name: 'worker' },
  ] } } },
};

describe('checkPort', () => {
  it.each([
    ['http', undefined],
    [8080, undefined],
    [9000, undefined],
    ['grpc', /Deployment checkout has no container port named "grpc" \(ports: http\/8080, 9000\); pass --port/],
    [1234, /has no container port 1234 \(ports: http\/8080, 9000\)$/],
  ])('%s', (port, problem) => {
    const r = checkPort(w, 'Deployment', port);
    if (problem === undefined) expect(r).toBeUndefined();
    else expect(r).toMatch(problem);
  });
});

describe('pickContainer', () => {
  it.each([
    [undefined, 'app'],
    ['worker', 'worker'],
    ['detour-sidecar', /no container "detour-sidecar" \(containers: app, worker\)/],
    ['nope', /no container "nope"/],
  ])('%s', (name, expected) => {
    const r = pickContainer(w, 'Deployment', name);
    if (typeof expected === 'string') expect(r).toMatchObject({ name: expected });
    else expect(r).toMatch(expected);
  });
});
