/**
 * Stable partitioning: FNV-1a (32-bit) over the UTF-8 bytes of the routing key, mod the partition count.
 * Stable across processes, machines and versions: never change it, or a running system splits visits.
 */
export function fnv1a32(key: string): number {
  let hash = 0x811c9dc5;
  const bytes = Buffer.from(key, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i];
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function partitionOf(routingKey: string, partitions: number): number {
  return fnv1a32(routingKey) % partitions;
}

/** Parses `OWNED_PARTITIONS`-style lists: "all", "3", "0-3", "0,2,5-7". Returns sorted unique partitions. */
export function parsePartitionList(spec: string, partitions: number): number[] {
  const trimmed = spec.trim();
  if (trimmed === '' || trimmed === 'all') return Array.from({ length: partitions }, (_, i) => i);
  const out = new Set<number>();
  for (const part of trimmed.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new Error(`invalid partition list "${spec}": "${part}" is not N or N-M`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from > to) throw new Error(`invalid partition list "${spec}": range ${from}-${to} is reversed`);
    if (to >= partitions) throw new Error(`invalid partition list "${spec}": ${to} is not below PARTITIONS=${partitions}`);
    for (let p = from; p <= to; p++) out.add(p);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * `partitionOf` in Lua (Redis scripts), for a script that finds a visit's keys, which live under its
 * partition's hash tag, from a session id it read from Redis. Defines `local function partition_of(s, n)`.
 * FNV-1a over the string's bytes (Lua strings are the UTF-8 bytes); the 32-bit multiply by 16777619 is done
 * as h·403 + (h mod 2^8)·2^24 (mod 2^32), exact in doubles. test/recs-store.e2e-spec.ts checks it.
 */
export const PARTITION_OF_LUA = `
local function partition_of(s, n)
  local h = 2166136261
  for i = 1, #s do
    h = bit.bxor(h, string.byte(s, i))
    if h < 0 then h = h + 4294967296 end
    h = (h * 403 + (h % 256) * 16777216) % 4294967296
  end
  return h % n
end
`;
