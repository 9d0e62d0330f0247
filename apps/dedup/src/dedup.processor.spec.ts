import { InMemoryDedupStore } from '@tidemark/state';
import { CleanPublisher, DedupProcessor, RawMessage } from './dedup.processor';

class RecordingPublisher implements CleanPublisher {
  readonly published: { subject: string; msgId: string }[] = [];
  failNext = false;
  async publishBatch(items: { subject: string; data: Uint8Array; msgId: string }[]) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('no responders');
    }
    this.published.push(...items.map(({ subject, msgId }) => ({ subject, msgId })));
    return items.map(() => ({}));
  }
}

const msg = (seq: number, id: string, partition = 3): RawMessage => ({ seq, partition, data: Buffer.from(JSON.stringify({ id, type: 'page_view' })) });

describe('DedupProcessor', () => {
  it('forwards first occurrences to the clean partition and drops true duplicates', async () => {
    const pub = new RecordingPublisher();
    const p = new DedupProcessor(new InMemoryDedupStore(), pub);
    const r = await p.process([msg(1, 'a'), msg(2, 'b'), msg(3, 'a')]);
    expect(r).toMatchObject({ forwarded: 2, duplicates: 1, poison: [], decisions: ['first', 'first', 'duplicate'] });
    expect(pub.published).toEqual([
      { subject: 'events.clean.3', msgId: 'a' },
      { subject: 'events.clean.3', msgId: 'b' },
    ]);
    // a duplicate send long after (a new raw sequence) is dropped too
    expect((await p.process([msg(10, 'b')])).decisions).toEqual(['duplicate']);
  });

  it('forwards again a redelivered first occurrence whose forward failed, and does not lose it', async () => {
    const store = new InMemoryDedupStore();
    const pub = new RecordingPublisher();
    const p = new DedupProcessor(store, pub);
    pub.failNext = true;
    await expect(p.process([msg(1, 'a')])).rejects.toThrow('no responders');
    expect(store.values.get('a')).toBe('1'); // claimed, not marked
    const again = await p.process([msg(1, 'a')]);
    expect(again.decisions).toEqual(['retry']);
    expect(pub.published).toEqual([{ subject: 'events.clean.3', msgId: 'a' }]);
    expect(store.values.get('a')).toBe('f1');
  });

  it('does not forward again a redelivery of an already forwarded message', async () => {
    const pub = new RecordingPublisher();
    const p = new DedupProcessor(new InMemoryDedupStore(), pub);
    await p.process([msg(1, 'a')]);
    const again = await p.process([msg(1, 'a')]);
    expect(again).toMatchObject({ forwarded: 0, decisions: ['forwarded'] });
    expect(pub.published).toHaveLength(1);
  });

  it('reports undecodable messages as poison without losing their neighbours', async () => {
    const pub = new RecordingPublisher();
    const p = new DedupProcessor(new InMemoryDedupStore(), pub);
    const r = await p.process([msg(1, 'a'), { seq: 2, partition: 3, data: Buffer.from('{oops') }, { seq: 3, partition: 3, data: Buffer.from('{}') }, msg(4, 'b')]);
    expect(r.poison).toEqual([
      { seq: 2, reason: expect.stringMatching(/^not JSON/) },
      { seq: 3, reason: 'event has no string id' },
    ]);
    expect(pub.published.map((x) => x.msgId)).toEqual(['a', 'b']);
  });
});
