import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, SAMPLES, displayPath } from './samples';

describe('samples', () => {
  it('finds the repository root and the samples kept in it', () => {
    expect(REPO_ROOT).toBe(path.resolve(__dirname, '..', '..', '..'));
    for (const file of Object.values(SAMPLES)) {
      expect(file.startsWith(path.join(REPO_ROOT, 'data', 'samples') + path.sep)).toBe(true);
      expect(fs.statSync(file).size).toBeGreaterThan(100_000);
    }
    expect(fs.readFileSync(SAMPLES.rees46, 'utf8').split('\n', 1)[0]).toBe('event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session');
    expect(fs.readFileSync(SAMPLES.onlineRetail, 'utf8').split('\n', 1)[0]).toBe('InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country');
  });

  it('shows a path relative when working in the repository root, else absolute', () => {
    expect(displayPath('/repo/data/x.csv', '/repo', '/repo')).toBe('data/x.csv');
    expect(displayPath('/repo/data/x.csv', '/repo/', '/repo')).toBe('data/x.csv');
    expect(displayPath('/repo/data/x.csv', '/', '/repo')).toBe('/repo/data/x.csv');
    expect(displayPath('/repo/data/x.csv', '/repo/apps', '/repo')).toBe('/repo/data/x.csv');
    expect(displayPath('/other/x.csv', '/repo', '/repo')).toBe('/other/x.csv');
    expect(displayPath(SAMPLES.rees46, REPO_ROOT)).toBe(path.join('data', 'samples', 'rees46-2019-oct-head', 'events.csv'));
  });
});
