/**
 * The sample logs kept in the repository (data/samples/, see its README.md for source, licence and quirks),
 * as absolute paths. The repository root is found by walking up from this file to the first folder with a
 * package.json, so the paths are right from the sources (libs/simulator/src), from the compiled tree
 * (dist/libs/simulator/src) and from any working directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function findRepoRoot(from: string): string {
  for (let dir = from; ; ) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(from, '..', '..', '..'); // not found: where libs/simulator/src sits in a checkout
    dir = up;
  }
}

/** The repository root (the folder holding package.json). */
export const REPO_ROOT = findRepoRoot(__dirname);

/** data/samples/ in the repository. */
export const SAMPLES_DIR = path.join(REPO_ROOT, 'data', 'samples');

export const SAMPLES = {
  /** REES46 / Open CDP, the first 17,434 rows of 2019-Oct.csv (format: libs/simulator/src/rees46.ts). */
  rees46: path.join(SAMPLES_DIR, 'rees46-2019-oct-head', 'events.csv'),
  /** UCI Online Retail (Chen 2015, CC BY 4.0), the first 10,000 rows. */
  onlineRetail: path.join(SAMPLES_DIR, 'uci-online-retail-head', 'online-retail.csv'),
} as const;

/** For help texts: a path in the repository, relative when the working directory is the repository root, else absolute. */
export function displayPath(file: string, cwd = process.cwd(), root = REPO_ROOT): string {
  return path.resolve(cwd) === root && file.startsWith(root + path.sep) ? path.relative(root, file) : file;
}
