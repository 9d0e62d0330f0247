// Jest runs TypeScript through SWC. NestJS 12 ships ESM only, so node_modules/@nestjs is transformed
// to CommonJS too (see docs/platform.md "Versions that work together"); everything else in node_modules is left alone.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];
const moduleNameMapper = {
  '^@tidemark/(.*)$': '<rootDir>/libs/$1/src',
};
const common = {
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|cookie)/)'],
  moduleNameMapper,
  testEnvironment: 'node',
};
module.exports = {
  watchman: false,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/build.global-setup.js',
    },
  ],
};
