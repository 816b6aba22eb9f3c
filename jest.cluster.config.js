/**
 * `npm run test:cluster`: the scheduling properties and the chaos set against the production-shaped cluster
 * (infra/cluster.ts: the real Temporal server on PostgreSQL, separate worker and API processes, nginx, S3), each
 * test file starting its own cluster on free ports. Not part of `npm test` / CI: a cluster start costs minutes
 * on two cores (docs/scheduling.md and the issue notes hold its output).
 */
const base = require('./jest.config.js').projects.find((p) => p.displayName === 'integration');

module.exports = {
  ...base,
  displayName: 'cluster',
  globalSetup: undefined,
  globalTeardown: undefined,
  testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
  slowTestThreshold: 300,
};
