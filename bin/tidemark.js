#!/usr/bin/env node
// The `tidemark` command. Runs the compiled CLI from dist/, building it first when it is missing.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const entry = path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js');
if (!fs.existsSync(entry)) {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!fs.existsSync(tsc)) {
    console.error('tidemark: dependencies are not installed; run `npm ci` (or `npm start`) first');
    process.exit(1);
  }
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
// Resolve the @tidemark/* path aliases against the compiled tree.
require('tsconfig-paths').register({ baseUrl: path.join(root, 'dist'), paths: { '@tidemark/*': ['libs/*/src'] } });
require(entry).main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(`tidemark: ${err && err.message ? err.message : err}`);
    process.exit(1);
  },
);
