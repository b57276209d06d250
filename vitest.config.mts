import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // One graphql module for everyone: type-graphql loads the CommonJS build, so vitest must too
    // ("Cannot use GraphQLObjectType from another module or realm" otherwise).
    alias: { graphql: 'graphql/index.js' },
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: the suite starts real servers and processes; more workers only contend.
    maxWorkers: 2,
  },
});
