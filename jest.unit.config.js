import { base } from './jest.base.config.js';

// Unit tests live beside the code; they need no cluster.
export default {
  ...base,
  displayName: 'unit',
  roots: ['<rootDir>/core', '<rootDir>/operator', '<rootDir>/webhook', '<rootDir>/sidecar', '<rootDir>/cli', '<rootDir>/test/controlplane', '<rootDir>/test/node'],
  testMatch: ['**/*.test.ts'],
  testTimeout: 60_000,
};
