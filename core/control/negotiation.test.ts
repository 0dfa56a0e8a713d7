import { describe, expect, it } from '@jest/globals';
import { buildOfferedSubprotocols, parseControlSubprotocol, planControlProtocol, type Negotiated, type ProtocolRange } from './negotiation.js';

const ctx = { pod: 'shop/checkout-1', restart: 'kubectl rollout restart deployment/checkout -n shop', operatorVersion: '0.2.0' };

describe('planControlProtocol (the operator picks from the sidecar offer)', () => {
  it.each<[string, string[], ProtocolRange, Partial<Negotiated>]>([
    ['a 0.2 sidecar with a 0.2 operator: protocol 2', ['detour-control.v2', 'detour-control.v1'], { min: 1, max: 2 }, { ok: true, protocol: 2, subprotocol: 'detour-control.v2' }],
    ['a 0.1 sidecar (no subprotocol) with a 0.2 operator: protocol 1, nothing to answer', [], { min: 1, max: 2 }, { ok: true, protocol: 1 }],
    ['the offer order does not matter: the newest served wins', ['detour-control.v1', 'detour-control.v2'], { min: 1, max: 2 }, { ok: true, protocol: 2 }],
    ['a 0.3 sidecar (v3, v2) with a 0.2 operator: protocol 2', ['detour-control.v3', 'detour-control.v2'], { min: 1, max: 2 }, { ok: true, protocol: 2 }],
    ['a 0.2 sidecar with a 0.3 operator that dropped protocol 1: protocol 2', ['detour-control.v2', 'detour-control.v1'], { min: 2, max: 3 }, { ok: true, protocol: 2 }],
    ['foreign names are ignored when a known one is offered', ['chat', 'detour-control.v2'], { min: 1, max: 2 }, { ok: true, protocol: 2 }],
    ['a 0.1 sidecar with a 0.3 operator: refused, restart the pod', [], { min: 2, max: 3 }, { ok: false, side: 'sidecar' }],
    ['only older protocols offered: refused, restart the pod', ['detour-control.v1'], { min: 2, max: 3 }, { ok: false, side: 'sidecar' }],
    ['only newer protocols offered: refused, upgrade the operator', ['detour-control.v4', 'detour-control.v3'], { min: 1, max: 2 }, { ok: false, side: 'operator' }],
    ['nothing Detour offered: refused as a sidecar problem', ['chat'], { min: 1, max: 2 }, { ok: false, side: 'sidecar' }],
  ])('%s', (_, offered, range, want) => {
    expect(planControlProtocol(offered, range, ctx)).toMatchObject(want);
  });

  it('says which pod to restart, and how, when the sidecar is too old', () => {
    const r = planControlProtocol([], { min: 2, max: 3 }, ctx);
    expect(!r.ok && r.reason).toBe('the sidecar of pod shop/checkout-1 speaks control protocol 1 (Detour 0.1.x), older than this operator (Detour 0.2.0) serves control protocols 2 (Detour 0.2.x), 3: restart the pod (kubectl rollout restart deployment/checkout -n shop) so it gets the current sidecar');
  });

  it('says to upgrade the operator when the sidecar is newer', () => {
    const r = planControlProtocol(['detour-control.v3'], { min: 1, max: 2 }, ctx);
    expect(!r.ok && r.reason).toMatch(/newer than this operator \(Detour 0\.2\.0\) serves control protocols 1 \(Detour 0\.1\.x\), 2 \(Detour 0\.2\.x\): upgrade the operator/);
  });
});

describe('subprotocol names', () => {
  it('offers newest first, and parses only its own names', () => {
    expect(buildOfferedSubprotocols({ min: 1, max: 3 })).toEqual(['detour-control.v3', 'detour-control.v2', 'detour-control.v1']);
    expect(['detour-control.v2', 'detour-control.v0', 'detour-control.v02', 'detour-control.vx', 'v2'].map(parseControlSubprotocol)).toEqual([2, undefined, undefined, undefined, undefined]);
  });
});
