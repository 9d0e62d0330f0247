/**
 * Lua shared by the fenced scripts: `is(key, type)` is true when a key has that Redis type or does not exist
 * yet (it then counts as that type for the rest of the script), so a script checks every key it will write
 * before its first write and never fails half way (docs/checkpoints.md "State layout in Redis").
 */
export const LUA_KEY_TYPE_CHECK = `local want = {}
local function is(key, t)
  if type(key) ~= 'string' then return false end
  local w = want[key]
  if w == nil then
    w = redis.call('TYPE', key).ok
    if w == 'none' then w = t end
    want[key] = w
  end
  return w == t
end`;

/**
 * Lua for scripts with flat arguments (after LUA_KEY_TYPE_CHECK and a `refuse(msg)` function):
 * `num(s)` a finite number or nil, `whole(s)` a non-negative integer or nil, `arg()` the next ARGV entry after
 * `at` (set `at` to the last fixed argument first), `hash_sections(first, last)` reads for KEYS[first..last]
 * in turn `<count of field/value pairs> <count of fields to delete> <pairs…> <fields…>`, checking the counts
 * and the keys' types before anything is written (it returns nil and the reason, else the sections), and
 * `write_hash_sections(sections)` writes them in chunks of 1000 arguments.
 */
export const LUA_FLAT_ARGS = `local at = 0
local function arg()
  at = at + 1
  return ARGV[at]
end
local function num(s)
  local x = tonumber(s)
  if x and x == x and x ~= math.huge and x ~= -math.huge then return x end
  return nil
end
local function whole(s)
  local x = num(s)
  if x and x >= 0 and x == math.floor(x) then return x end
  return nil
end
local function hash_sections(first, last)
  local hashes = {}
  for h = first, last do
    local ns, nd = whole(arg()), whole(arg())
    if not ns or not nd then return nil, KEYS[h] .. ': bad counts' end
    if at + 2 * ns + nd > #ARGV then return nil, KEYS[h] .. ': fewer arguments than counted' end
    if (ns > 0 or nd > 0) and not is(KEYS[h], 'hash') then return nil, KEYS[h] .. ': a key of another type' end
    local sets, dels = {}, {}
    for i = 1, 2 * ns do sets[i] = arg() end
    for i = 1, nd do dels[i] = arg() end
    hashes[h] = {sets, dels}
  end
  return hashes
end
local function write_hash_sections(hashes)
  for h, s in pairs(hashes) do
    for i = 1, #s[1], 1000 do redis.call('HSET', KEYS[h], unpack(s[1], i, math.min(i + 999, #s[1]))) end
    for i = 1, #s[2], 1000 do redis.call('HDEL', KEYS[h], unpack(s[2], i, math.min(i + 999, #s[2]))) end
  end
end`;
