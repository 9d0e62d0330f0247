// End-to-end tests run the services from dist/: build once (incremental tsc) before the e2e project runs.
const { execFileSync } = require('node:child_process');
const path = require('node:path');
module.exports = async () => {
  const root = path.resolve(__dirname, '..', '..');
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
};
