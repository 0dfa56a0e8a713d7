import { describe, expect, it } from '@jest/globals';
import type { PolicyObject } from '../core/policy/types.js';
import { applyWithheldEnv, planWithholdRules } from './withhold.js';

const policy = (kind: PolicyObject['kind'], name: string, spec: Partial<PolicyObject['spec']>, namespace?: string): PolicyObject =>
  ({ kind, metadata: { name, ...(namespace ? { namespace } : {}) }, spec: { subjects: { users: ['x'] }, ...spec } });

describe('withholding', () => {
  const checkout = { kind: 'Deployment' as const, name: 'checkout' };
  it('takes the rules of every policy selecting the workload, cluster ones whatever their namespaceSelector', () => {
    const rules = planWithholdRules([
      policy('InterceptPolicy', 'a', { withhold: { env: ['*_PASSWORD'] } }, 'shop'),
      policy('InterceptPolicy', 'other-ns', { withhold: { env: ['GREETING'] } }, 'other'),
      policy('InterceptPolicy', 'other-workload', { workloads: { names: ['web'] }, withhold: { env: ['GREETING'] } }, 'shop'),
      policy('ClusterInterceptPolicy', 'c', { namespaceSelector: { matchLabels: { env: 'prod' } }, withhold: { env: ['API_KEY'], volumes: ['creds'] } }),
    ], 'shop', checkout);
    expect(rules).toEqual([{ env: ['*_PASSWORD'] }, { env: ['API_KEY'], volumes: ['creds'] }]);
    const { env, withheld } = applyWithheldEnv({ vars: [{ name: 'DB_PASSWORD', value: 's' }, { name: 'GREETING', value: 'hi' }, { name: 'API_KEY', value: 'k' }], unresolved: [{ name: 'X_PASSWORD', reason: 'r' }] }, rules);
    expect(env).toEqual({ vars: [{ name: 'GREETING', value: 'hi' }], unresolved: [] });
    expect(withheld).toEqual(['DB_PASSWORD', 'API_KEY']);
  });
});
