import { describe, expect, it } from '@jest/globals';
import { explainProtocolMismatch, explainRefusedOffer, parseProtocolList, pickSubprotocol, planUpgrade, subprotocolVersion } from './negotiation.js';

const V1 = 'detour-tunnel.v1';
const V2 = 'detour-tunnel.v2';

describe('tunnel protocol negotiation', () => {
  it('the sidecar picks the newest protocol it speaks among those offered', () => {
    const cases: Array<[string[], string[], string | undefined]> = [
      [[V2, V1], [V2, V1], V2],
      [[V1, V2], [V2, V1], V2], // the sidecar's preference decides
      [[V2, V1], [V1], V1], // new CLI, v0.1.0 sidecar
      [[V1], [V2, V1], V1], // older CLI, new sidecar
      [['detour-tunnel.v3'], [V2, V1], undefined],
      [[], [V2, V1], undefined],
    ];
    for (const [offered, speaks, picked] of cases) expect([offered, speaks, pickSubprotocol(new Set(offered), speaks)]).toEqual([offered, speaks, picked]);
  });

  it('says which side has to move', () => {
    const cases: Array<[string[], string[] | undefined, string]> = [
      [[V2, V1], undefined, 'sidecar'], // predates negotiation
      [['detour-tunnel.v4', 'detour-tunnel.v3'], [V2, V1], 'sidecar'],
      [[V2, V1], ['detour-tunnel.v4', 'detour-tunnel.v3'], 'cli'],
      [[V2, V1], ['something-else'], 'unknown'],
    ];
    for (const [cli, sidecar, upgrade] of cases) expect([cli, sidecar, planUpgrade(cli, sidecar)]).toEqual([cli, sidecar, upgrade]);
    expect(explainProtocolMismatch([V2, V1], ['detour-tunnel.v3']).message).toMatch(/: upgrade the detour CLI$/);
    expect(explainProtocolMismatch([V2, V1], ['x']).message).toMatch(/use a detour CLI from the same release as the sidecar$/);
  });

  it("words the sidecar's refusal for the client that offered nothing it speaks", () => {
    expect(explainRefusedOffer(['detour-tunnel.v0'], [V2, V1])).toBe('this sidecar speaks tunnel protocol detour-tunnel.v2, detour-tunnel.v1; the client offered detour-tunnel.v0: upgrade the detour CLI');
    expect(explainRefusedOffer(['detour-tunnel.v7'], [V2, V1])).toMatch(/this sidecar is older than the client: restart the pod/);
    expect(explainRefusedOffer([], [V2, V1])).toMatch(/the client offered no subprotocol/);
  });

  it('parses protocol lists and versions', () => {
    expect(parseProtocolList(['a, b', 'c'])).toEqual(['a', 'b', 'c']);
    expect(parseProtocolList(undefined)).toEqual([]);
    expect([V1, V2, 'detour-tunnel.v12', 'detour-outbound.v1', 'detour-tunnel.vx'].map(subprotocolVersion)).toEqual([1, 2, 12, undefined, undefined]);
  });
});
