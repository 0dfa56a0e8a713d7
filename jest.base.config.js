// Shared jest settings: ESM TypeScript through ts-jest (transpile only; `npm run typecheck` checks types).
export const base = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};
