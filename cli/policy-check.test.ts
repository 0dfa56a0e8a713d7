import { describe, expect, it } from '@jest/globals';
import type { Intercept } from '../core/api/intercept.js';
import { parseCommandLine } from './args.js';
import { describeAllowed } from './policy-check.js';

describe('detour policy check', () => {
  it('parses like detour intercept, without --to', () => {
    const r = parseCommandLine(['policy', 'check', 'checkout', '--header', 'x-detour-user=alice', '--mode', 'mirror', '--ttl', '2h', '-n', 'shop']);
    expect(r).toEqual({ ok: true, command: expect.objectContaining({
      kind: 'policy-check', cluster: { namespace: 'shop' }, workload: { kind: 'Deployment', name: 'checkout' }, port: 'http',
      headers: [{ name: 'x-detour-user', exact: 'alice' }], mode: 'Mirror', ttl: '2h',
    }) });
  });

  it.each([
    [['policy'], /expected "detour policy check WORKLOAD"/],
    [['policy', 'allow', 'x'], /not "allow"/],
    [['policy', 'check'], /missing WORKLOAD/],
    [['policy', 'check', 'a', 'b'], /unexpected argument "b"/],
  ])('%j is a usage error', (argv, message) => {
    const r = parseCommandLine(argv);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });

  it('says which policy allows it and what admission defaulted', () => {
    const admitted = { metadata: { name: 'p', namespace: 'shop', annotations: { 'detour.dev/admitted-by': 'InterceptPolicy shop/devs' } }, spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: { headers: [{ name: 'x-detour-user', exact: 'alice' }] }, mode: 'Steal', ttl: '2h', owner: 'alice' } } as unknown as Intercept;
    expect(describeAllowed(admitted, {})).toEqual(['Allowed by InterceptPolicy shop/devs: Deployment/checkout, x-detour-user=alice, mode Steal', '  ttl 2h (the policy\'s default)', '  owner alice']);
    const free = { ...admitted, metadata: { ...admitted.metadata, annotations: { 'detour.dev/admitted-by': '' } }, spec: { ...admitted.spec, ttl: undefined } } as unknown as Intercept;
    expect(describeAllowed(free, {})[0]).toBe('Allowed: no InterceptPolicy selects Deployment/checkout (anyone who may create Intercepts here may intercept it)');
  });
});
