/** nest-cli.json describes the monorepo: every app and every library, at its folder (docs/operations.md "Building"). */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'nest-cli.json'), 'utf8')) as {
  monorepo: boolean;
  compilerOptions: { tsConfigPath: string };
  projects: Record<string, { type: string; root: string; sourceRoot: string; entryFile: string }>;
};
const dirs = (d: string) => fs.readdirSync(path.join(ROOT, d), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${d}/${e.name}`);

it('lists every app and library with its entry file', () => {
  expect(config.monorepo).toBe(true);
  expect(fs.existsSync(path.join(ROOT, config.compilerOptions.tsConfigPath))).toBe(true);
  const projects = Object.values(config.projects);
  expect(projects.map((p) => p.root).sort()).toEqual([...dirs('apps'), ...dirs('libs')].sort());
  for (const p of projects) {
    expect(p.type).toBe(p.root.startsWith('apps/') ? 'application' : 'library');
    expect(p.sourceRoot).toBe(`${p.root}/src`);
    expect(fs.existsSync(path.join(ROOT, p.sourceRoot, `${p.entryFile}.ts`))).toBe(true);
  }
});
