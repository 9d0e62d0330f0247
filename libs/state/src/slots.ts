/**
 * Redis Cluster key slots, computed here (framework-free, no client): CRC16/XMODEM of the key's hash tag (the
 * part between the first `{` and the next `}` when not empty) modulo 16384 — the algorithm of the Redis
 * Cluster specification. Used to group a multi-key read into one pipeline per slot and to check that every
 * script and transaction names keys of one slot.
 */

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ b) & 0xff];
  return crc;
}

/** The part of a key that is hashed: its hash tag when it has a non-empty one, else the whole key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/** The Redis Cluster slot (0..16383) of a key. */
export function keySlot(key: string): number {
  return crc16(Buffer.from(hashTagOf(key), 'utf8')) % 16384;
}

/** Whether every key is in one slot (true for none). */
export function sameSlot(keys: readonly string[]): boolean {
  if (keys.length === 0) return true;
  const s = keySlot(keys[0]);
  return keys.every((k) => keySlot(k) === s);
}

/** Indices of `keys` grouped by slot, each group in the keys' order, groups by first appearance. */
export function groupBySlot(keys: readonly string[]): number[][] {
  const groups = new Map<number, number[]>();
  keys.forEach((k, i) => {
    const s = keySlot(k);
    const g = groups.get(s);
    if (g) g.push(i);
    else groups.set(s, [i]);
  });
  return [...groups.values()];
}
