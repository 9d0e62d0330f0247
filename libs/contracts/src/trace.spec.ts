import { acceptTraceparent } from './trace';

describe('acceptTraceparent', () => {
  it('keeps a well-formed W3C traceparent (lower-cased), refuses anything else', () => {
    expect(acceptTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(acceptTraceparent('00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01')).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    // a later version: its first four fields
    expect(acceptTraceparent('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra')).toBe('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    for (const bad of [
      undefined,
      '',
      'x',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
      '00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01',
      ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
    ]) {
      expect(acceptTraceparent(bad)).toBeUndefined();
    }
  });
});
