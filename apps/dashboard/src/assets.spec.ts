import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chartJsFile, loadAssets, publicDir } from './assets';

describe('dashboard assets', () => {
  it('finds the public folder from the sources and from a dist-like depth', () => {
    const dir = publicDir();
    expect(fs.existsSync(path.join(dir, 'index.html'))).toBe(true);
    const root = path.resolve(dir, '..', '..', '..');
    expect(publicDir(path.join(root, 'dist', 'apps', 'dashboard', 'src'))).toBe(dir);
  });

  it('fails with a clear message where there is none', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-assets-'));
    try {
      expect(() => publicDir(tmp)).toThrow(/apps\/dashboard\/public not found/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('serves the page, its script and style, and Chart.js from node_modules (no CDN)', () => {
    const assets = loadAssets();
    expect(assets.get('/')!.type).toBe('text/html; charset=utf-8');
    expect(assets.get('/assets/app.js')!.type).toBe('text/javascript; charset=utf-8');
    expect(assets.get('/assets/style.css')!.type).toBe('text/css; charset=utf-8');
    const chart = assets.get('/vendor/chart.umd.min.js')!;
    expect(chart.body.equals(fs.readFileSync(chartJsFile()))).toBe(true);
    expect(chart.body.toString('utf8', 0, 200)).toMatch(/Chart\.js/);
    const html = assets.get('/')!.body.toString('utf8');
    expect(html).toContain('src="/vendor/chart.umd.min.js"');
    expect(html).not.toMatch(/https?:\/\//);
  });
});
