import { base } from './jest.base.config.js';

// Integration and end-to-end suites: one real local control plane for the whole run.
export default {
  ...base,
  displayName: 'integration',
  roots: ['<rootDir>/test/integration'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/integration/global-setup.mjs',
  globalTeardown: '<rootDir>/test/integration/global-teardown.mjs',
  maxWorkers: 1,
  testTimeout: 180_000,
};
