import { partitionOf } from '@tidemark/contracts';
import { DEFAULT_PARAMS, FieldWriter, PARTIAL_HASHES, RecPartial, encodeWindow, planInteractions, replay, type Level } from '@tidemark/recommend';
import { RespArgs, encodeKeyPart } from '@tidemark/state';
import { checkpointArgs } from './redis-rec.store';

const T = Date.UTC(2026, 0, 1);

describe('checkpointArgs', () => {
  it("writes each changed field's value and each window as PartialChanges.encode and encodeWindow make them, in the script's order", () => {
    const params = { ...DEFAULT_PARAMS, userRecent: 2 };
    const partial = new RecPartial(params, { itemMs: 10_000, userMs: 10_000 });
    const at = (i: number, level: Level, t: number) => ({ userId: `u${i % 3}`, sessionId: `s${i % 4}`, productId: `p${i % 7}`, categoryId: i % 2 ? 'c' : 'd:{x}', level, ts: t });
    replay(planInteractions([{ userId: 'gone', sessionId: 'g', productId: 'old', categoryId: 'old', level: 1, ts: T }], new Map(), params).ops, partial);
    partial.changes();
    partial.committed();
    // much later: the sweep deletes some fields, so the checkpoint holds sets and deletes; a long list goes natively
    const batch = Array.from({ length: 40 }, (_, i) => at(i + 2, ((i % 3) + 1) as Level, T + 60_000 + i));
    replay(planInteractions(batch, new Map(), params).ops, partial);
    const changed = partial.changes();
    const fields = changed.encode();
    expect(fields.nb.del.length + fields.u.del.length).toBeGreaterThan(0);
    const ref = new RespArgs(64);
    for (const h of PARTIAL_HASHES) {
      ref.num(fields[h].set.length).num(fields[h].del.length);
      for (const [f, v] of fields[h].set) ref.str(f).bulk(v);
      for (const f of fields[h].del) ref.str(f);
    }
    ref.num(changed.windows.size);
    for (const [id, items] of changed.windows) ref.num(partitionOf(id, 8)).str(encodeKeyPart(id)).bulk(encodeWindow(items));
    expect(checkpointArgs(changed, 8, new RespArgs(64)).bytes().equals(ref.bytes())).toBe(true);
    // a store's scratch writer, reused from one checkpoint to the next (and smaller than one needs): the same bytes
    const scratch = new FieldWriter(16);
    for (let i = 0; i < 3; i++) expect(checkpointArgs(changed, 8, new RespArgs(64), scratch).bytes().equals(ref.bytes())).toBe(true);
  });
});
