import { DEFAULT_PARAMS, parseSignals } from './params';

describe('parseSignals (RECS_SIGNALS)', () => {
  it('any subset of neighbours, sequence, knn, category; none for none', () => {
    expect(parseSignals('neighbours,sequence,knn,category')).toEqual(DEFAULT_PARAMS.signals);
    expect(parseSignals(' knn , category')).toEqual({ neighbours: false, sequence: false, knn: true, category: true });
    expect(parseSignals('none')).toEqual({ neighbours: false, sequence: false, knn: false, category: false });
  });

  it('refuses unknown and repeated names', () => {
    expect(() => parseSignals('trending')).toThrow('"trending" is not one of neighbours, sequence, knn, category (or none)');
    expect(() => parseSignals('knn,knn')).toThrow('knn is given twice');
    expect(() => parseSignals('')).toThrow(/is not one of/);
  });
});
