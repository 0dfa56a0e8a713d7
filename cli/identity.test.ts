import { describe, expect, it } from '@jest/globals';
import { planOwner } from './identity.js';

describe('planOwner', () => {
  it.each<[string, Parameters<typeof planOwner>[0], string]>([
    ['the authenticated username wins', { reviewed: 'alice@example.com', kubeconfigUser: 'admin', osUser: 'root' }, 'alice@example.com'],
    ['without a review, the kubeconfig user name', { kubeconfigUser: 'dev-alice', osUser: 'root' }, 'dev-alice'],
    ['an empty review answer does not count', { reviewed: '', kubeconfigUser: 'dev-alice', osUser: 'root' }, 'dev-alice'],
    ['the OS user only as the last resort', { osUser: 'alice' }, 'alice'],
  ])('%s', (_n, sources, owner) => expect(planOwner(sources)).toBe(owner));
});
