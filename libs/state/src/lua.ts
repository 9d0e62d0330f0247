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
