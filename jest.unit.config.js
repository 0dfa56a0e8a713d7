import { base } from './jest.base.config.js';

// Unit tests live beside the code; they need no cluster.
export default {
  ...base,
  displayName: 'unit',
  roots: ['<rootDir>'],
  testMatch: ['<rootDir>/{core,operator,webhook,sidecar,cli,cluster,bench}/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.detour/'],
  testTimeout: 60_000,
};
