/**
 * Encoding of user-supplied values (product, user, order, session ids, join keys…) used as parts of Redis
 * key names, so that no value can name another key: `tm:agg:j:<metric>:<key>` with key `Z:r` must not be
 * the payments set `tm:agg:j:<metric>:Z:r` of order `Z`.
 *
 * Printable ASCII is kept, except the characters below, which are written `%XX` (the byte in upper-case
 * hex):
 *   `%` (the escape itself), `:` (the key separator), `{` `}` (Redis Cluster hash tags),
 *   `*` `?` `[` `]` `\` (glob characters of KEYS / SCAN patterns), space, control characters and DEL.
 * Anything outside ASCII is written as its UTF-8 bytes, each `%XX`; a lone UTF-16 surrogate (not valid
 * Unicode, so it has no UTF-8 form) is written `%uXXXX`.
 *
 * Properties (key-part.spec.ts checks them): injective (`decodeKeyPart` inverts it), the output never holds
 * `:`, `{`, `}` or anything outside printable ASCII, and a plain id (`p-42`, `user_7`, a UUID) is unchanged.
 * Pure, no I/O.
 */

/** The printable ASCII characters that are escaped. */
const SPECIAL = new Set(['%', ':', '{', '}', '*', '?', '[', ']', '\\']);

const hex2 = (n: number) => `%${n.toString(16).toUpperCase().padStart(2, '0')}`;

/** Encodes one key part; see the file comment. */
export function encodeKeyPart(value: string): string {
  // Fast path: the usual id needs nothing.
  if (/^[A-Za-z0-9_.\-]*$/.test(value)) return value;
  let out = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x21 && cp <= 0x7e) {
      out += SPECIAL.has(ch) ? hex2(cp) : ch;
    } else if (cp < 0x80) {
      out += hex2(cp);
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      // `for…of` yields a well-formed pair as one code point, so this is a lone surrogate.
      out += `%u${cp.toString(16).toUpperCase()}`;
    } else {
      for (const b of Buffer.from(ch, 'utf8')) out += hex2(b);
    }
  }
  return out;
}

// ignoreBOM: a leading U+FEFF is part of the value, not a byte-order mark to drop.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Inverts `encodeKeyPart`; throws on a string it cannot have produced. */
export function decodeKeyPart(encoded: string): string {
  const bad = () => new Error(`not an encoded key part: ${JSON.stringify(encoded)}`);
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length === 0) return;
    try {
      out += UTF8.decode(Uint8Array.from(bytes));
    } catch {
      throw bad();
    }
    bytes = [];
  };
  for (let i = 0; i < encoded.length; ) {
    const c = encoded[i];
    if (c === '%' && encoded[i + 1] === 'u' && /^[0-9A-F]{4}$/.test(encoded.slice(i + 2, i + 6))) {
      flush();
      const cp = parseInt(encoded.slice(i + 2, i + 6), 16);
      if (cp < 0xd800 || cp > 0xdfff) throw bad();
      out += String.fromCharCode(cp);
      i += 6;
    } else if (c === '%' && /^[0-9A-F]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      flush();
      if (c < '!' || c > '~' || SPECIAL.has(c)) throw bad();
      out += c;
      i++;
    }
  }
  flush();
  if (encodeKeyPart(out) !== encoded) throw bad();
  return out;
}

/**
 * The same encoding in Lua, for a script that builds a key from a value it read from Redis (e.g. a product
 * id stored as a sorted-set member). Defines `local function keypart(s)`. Lua sees bytes: for valid Unicode
 * (which ingestion guarantees) its output equals `encodeKeyPart`'s; test/key-safety.e2e-spec.ts checks it.
 */
export const KEY_PART_LUA = `
local function keypart(s)
  return (string.gsub(s, '[%z\\1-\\32\\127-\\255%%:{}%*%?%[%]\\\\]', function(c) return string.format('%%%02X', string.byte(c)) end))
end
`;

