/**
 * HyperLogLog distinct counting (the in-memory accumulator of the `distinct` aggregation).
 *
 * Layout, kept simple: 2^p one-byte registers. Default p = 16: 65536 registers, 64 KiB, standard error
 * 1.04/√m ≈ 0.41 %, so the ≤ 2 % bound holds with a wide margin (measured worst case 0.95 % over 276 sets of
 * 600…300 000 members; p = 14, Redis's choice, measured 1.97 % — too close to the bound). Hash: MurmurHash3 (x86, 32-bit) over the string's UTF-16
 * code units, two per 32-bit block. Register index = the top p bits; register value = 1 + the number of
 * leading zeros of the remaining 32 − p bits (capped at 32 − p + 1). Estimate: Ertl's improved raw
 * estimator ("New cardinality estimation algorithms for HyperLogLog sketches", 2017), which needs no
 * empirical bias tables and is accurate over the whole range (Redis uses it too).
 *
 * Small sets are exact: up to SPARSE_LIMIT members the sketch keeps the members themselves and counts them
 * exactly; past that it turns into registers. The state is a function of the set of members added, whatever
 * the order or grouping (registers are per-index maxima), so merge is associative, commutative and idempotent.
 */
export const HLL_DEFAULT_PRECISION = 16;
export const HLL_SPARSE_LIMIT = 512;

const ALPHA_INF = 0.5 / Math.LN2;

/** MurmurHash3 x86_32 over UTF-16 code units. */
export function hash32(s: string, seed = 0): number {
  let h = seed | 0;
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  let prev: number;
  do {
    x *= x;
    prev = z;
    z += x * y;
    y += y;
  } while (z !== prev);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let prev: number;
  do {
    x = Math.sqrt(x);
    prev = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (z !== prev);
  return z / 3;
}

/** JSON form: either the exact members (small sets) or the registers, base64. */
export type HyperLogLogJson = { p: number; members: string[] } | { p: number; registers: string } | { p: number; sparse: string };

export class HyperLogLog {
  private members: Set<string> | null = new Set();
  private registers: Uint8Array | null = null;
  /** Registers that are not 0, kept as they are set (so toJSON need not count them); 0 while exact. */
  private set = 0;

  constructor(readonly p: number = HLL_DEFAULT_PRECISION) {
    if (!(Number.isInteger(p) && p >= 4 && p <= 18)) throw new RangeError(`HyperLogLog precision must be an integer in [4, 18] (got ${p})`);
  }

  /** True while the set is small enough to be kept exactly. */
  get exact(): boolean {
    return this.members !== null;
  }

  add(member: string): this {
    if (this.members) {
      this.members.add(member);
      if (this.members.size > HLL_SPARSE_LIMIT) this.densify();
    } else this.addHash(this.registers!, hash32(member));
    return this;
  }

  /** Adds every member of `other` (register-wise max); `other` is unchanged. */
  merge(other: HyperLogLog): this {
    if (other.p !== this.p) throw new RangeError(`cannot merge HyperLogLogs of precision ${this.p} and ${other.p}`);
    if (other.members) {
      for (const m of other.members) this.add(m);
      return this;
    }
    if (this.members) this.densify();
    const a = this.registers!;
    const b = other.registers!;
    for (let i = 0; i < a.length; i++) {
      if (b[i] > a[i]) {
        if (a[i] === 0) this.set++;
        a[i] = b[i];
      }
    }
    return this;
  }

  /** Exact size of a small set; the HyperLogLog estimate (rounded) past it. */
  count(): number {
    if (this.members) return this.members.size;
    const regs = this.registers!;
    const m = regs.length;
    const q = 32 - this.p;
    const c = new Array<number>(q + 2).fill(0);
    for (let i = 0; i < m; i++) c[regs[i]]++;
    let z = m * tau(1 - c[q + 1] / m);
    for (let k = q; k >= 1; k--) z = 0.5 * (z + c[k]);
    z += m * sigma(c[0] / m);
    return Math.round((ALPHA_INF * m * m) / z);
  }

  clone(): HyperLogLog {
    const h = new HyperLogLog(this.p);
    h.members = this.members ? new Set(this.members) : null;
    h.registers = this.registers ? this.registers.slice() : null;
    h.set = this.set;
    return h;
  }

  /**
   * The exact members, or the registers: while under a third of them are set (and p <= 16), only those, as
   * (u16 index, u8 value) triples — a partition's share of a minute of visitors is mostly empty registers.
   */
  toJSON(): HyperLogLogJson {
    if (this.members) return { p: this.p, members: [...this.members].sort() };
    const regs = this.registers!;
    if (this.p <= 16) {
      const set = this.set;
      if (set * 3 < regs.length) {
        const out = Buffer.allocUnsafe(set * 3);
        let at = 0;
        for (let i = 0; i < regs.length; i++) {
          if (regs[i] === 0) continue;
          out.writeUInt16LE(i, at);
          out[at + 2] = regs[i];
          at += 3;
        }
        return { p: this.p, sparse: out.toString('base64') };
      }
    }
    return { p: this.p, registers: Buffer.from(regs.buffer, regs.byteOffset, regs.byteLength).toString('base64') };
  }

  static fromJSON(json: HyperLogLogJson): HyperLogLog {
    const h = new HyperLogLog(json.p);
    if ('members' in json) {
      for (const m of json.members) h.add(m);
      return h;
    }
    if ('sparse' in json) {
      const bytes = Buffer.from(json.sparse, 'base64');
      const regs = new Uint8Array(1 << json.p);
      if (bytes.length % 3 !== 0) throw new RangeError('HyperLogLog sparse registers must be (index, value) triples');
      for (let at = 0; at < bytes.length; at += 3) {
        const i = bytes.readUInt16LE(at);
        if (i >= regs.length) throw new RangeError(`HyperLogLog register ${i} out of range`);
        // Exact whatever the triples say (an index twice, a 0): the count is what toJSON sizes its output by.
        const v = bytes[at + 2];
        if (regs[i] === 0 && v !== 0) h.set++;
        else if (regs[i] !== 0 && v === 0) h.set--;
        regs[i] = v;
      }
      h.members = null;
      h.registers = regs;
      return h;
    }
    const bytes = Buffer.from(json.registers, 'base64');
    if (bytes.length !== 1 << json.p) throw new RangeError(`HyperLogLog registers must be ${1 << json.p} bytes (got ${bytes.length})`);
    h.members = null;
    h.registers = new Uint8Array(bytes);
    for (let i = 0; i < h.registers.length; i++) if (h.registers[i] !== 0) h.set++;
    return h;
  }

  private densify(): void {
    const regs = new Uint8Array(1 << this.p);
    for (const m of this.members!) this.addHash(regs, hash32(m));
    this.members = null;
    this.registers = regs;
  }

  private addHash(regs: Uint8Array, h: number): void {
    const p = this.p;
    const idx = h >>> (32 - p);
    const rest = (h << p) >>> 0;
    const q = 32 - p;
    const rank = rest === 0 ? q + 1 : Math.min(Math.clz32(rest) + 1, q + 1);
    if (rank > regs[idx]) {
      if (regs[idx] === 0) this.set++;
      regs[idx] = rank;
    }
  }
}
