/**
 * Two projects: `unit` (pure logic, fast, parallel) and `integration` (the real Temporal, Postgres,
 * Redis, ffmpeg and model; services started once per run by globalSetup, files run in band because
 * two cores are shared with the inference threads).
 */
const transform = { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
const common = {
  transform,
  // node-pg-migrate ships ESM only; Jest on Node 20 cannot require it untransformed.
  transformIgnorePatterns: ['/node_modules/(?!node-pg-migrate/)'],
  // onnxruntime-node checks typed arrays against the host realm's constructors (test/helpers/node-env.js says why).
  testEnvironment: '<rootDir>/test/helpers/node-env.js',
  moduleFileExtensions: ['ts', 'js', 'json'],
};

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/helpers/global-setup.ts',
      globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
      slowTestThreshold: 60,
    },
  ],
};
