/** The page's static files, read once at boot: the app's `public/` folder and Chart.js from node_modules. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Asset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** `apps/dashboard/public`, found from here whether running from the sources or from dist/. */
export function publicDir(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'apps', 'dashboard', 'public');
    if (fs.existsSync(path.join(candidate, 'index.html'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`apps/dashboard/public not found above ${from}`);
  }
}

/** Chart.js's self-contained (UMD) build, served by the dashboard itself: no CDN. */
export function chartJsFile(): string {
  return path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

/** Every asset by its URL path (`/`, `/assets/app.js`, `/vendor/chart.umd.min.js`). */
export function loadAssets(dir = publicDir()): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const add = (url: string, file: string) => assets.set(url, { body: fs.readFileSync(file), type: TYPES[path.extname(file)] ?? 'application/octet-stream' });
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (fs.statSync(file).isFile()) add(name === 'index.html' ? '/' : `/assets/${name}`, file);
  }
  add('/vendor/chart.umd.min.js', chartJsFile());
  return assets;
}
