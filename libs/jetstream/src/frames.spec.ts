import { encodeFrame } from '@tidemark/contracts';
import { decodeFrames } from './frames';

const entry = (id: string, body: string) => ({ id: Buffer.from(id), body: Buffer.from(body) });

describe('decodeFrames', () => {
  it('gives every event with its frame sequence and index; a broken event is dead-lettered alone with its bytes', () => {
    const r = decodeFrames([
      { seq: 4, data: encodeFrame([entry('a', '{"id":"a"}'), entry('b', '{broken'), entry('c', '{"id":"c"}'), entry('d', '{"id":"d","userId":"\\ud800"}'), entry('e', '{"id":"e","s":"\\u00e9\\ud83d\\ude00"}')]) },
      { seq: 5, data: Buffer.from('{"id":"legacy"}') },
      { seq: 6, data: Buffer.concat([Buffer.from('TMF1'), Buffer.from([9, 0, 0, 0])]) },
    ]);
    expect(r.events).toEqual([
      { seq: 4, index: 0, event: { id: 'a' } },
      { seq: 4, index: 2, event: { id: 'c' } },
      { seq: 4, index: 4, event: { id: 'e', s: 'é😀' } },
      { seq: 5, index: 0, event: { id: 'legacy' } },
    ]);
    expect(r.deadLetters).toEqual([
      { seq: 4, index: 1, data: Buffer.from('{broken'), reason: expect.stringMatching(/^not JSON/) },
      { seq: 4, index: 3, data: Buffer.from('{"id":"d","userId":"\\ud800"}'), reason: 'strings that are not well-formed Unicode: userId' },
      { seq: 6, reason: expect.stringMatching(/^unreadable frame/) },
    ]);
    expect(r.count).toBe(6);
  });
});
