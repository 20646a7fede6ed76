-- parsewith reads a stored entry "<order> <T> <price object>" whose object
-- must start with prefix: its order and object, or nil when it is not an
-- entry this script would have written for that coin.
local function parsewith(prefix, e)
  if type(e) ~= 'string' or string.byte(e, 21) ~= 32 then return nil end
  local sp = string.find(e, ' ', 22, true)
  if not sp or not string.find(string.sub(e, 1, sp - 1), '^%d+ %d+$') then return nil end
  local p = sp + 1 + #prefix -- the price
  if string.sub(e, sp + 1, p - 1) ~= prefix or not string.find(e, '^%-?%d+%.?%d*"}$', p) or
    string.byte(e, -3) == 46 then
    return nil
  end
  return string.sub(e, 1, 20), string.sub(e, sp + 1)
end

-- parse reads coin id's stored entry e, as parsewith: nil also for an id
-- this script would not have written (empty, or not UTF-8).
local function parse(id, e)
  if not validid(id) then return nil end
  return parsewith(prefixof(id), e)
end

-- stored tells whether e is the stored entry for the price object obj of
-- a document entry: "<order> <T> <obj>". Cheaper than parse, for an obj
-- already read from the document.
local function stored(e, obj)
  return type(e) == 'string' and #e > #obj + 22 and string.byte(e, 21) == 32 and
    string.sub(e, -#obj) == obj and string.byte(e, -#obj - 1) == 32 and
    not string.find(string.sub(e, 1, 20), '%D') and not string.find(string.sub(e, 22, -#obj - 2), '%D')
end

-- call runs cmd key args... in chunks and returns the replies joined.
local function call(cmd, key, list)
  local out = {}
  for i = 1, #list, CHUNK do
    local r = redis.call(cmd, key, unpack(list, i, math.min(i + CHUNK - 1, #list)))
    if type(r) == 'table' then
      for _, v in ipairs(r) do out[#out + 1] = v end
    end
  end
  return out
end

-- try runs a read that may fail (a key of another type): nil when it did.
-- The splice then hands over to the rebuild, which says what is wrong.
local function try(...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then return nil end
  return r
end

-- readmeta reads the meta (KEYS[5]) by name:
--   v       the layout's version, '2'
--   ix      '1', the layout with both indexes; '0' was the previous
--           script's lean layout of a small document (no indexes, each
--           coin's time in a field t:<id> of the meta), rebuilt into this
--           one at the first merge
--   head    the document's bytes before its first price
--   len     the document's length, n its coins
--   newest  the newest order of the state
--   audit   where the audit's window starts at the next splice
--   sha     the document's SHA1 when it is small (see WHOLE), else ''
-- A field that is absent, or a number that does not read as one, is nil;
-- all are when the meta is not a hash.
local META_FIELDS = {'v', 'head', 'len', 'n', 'newest', 'audit', 'sha', 'ix'}
local function readmeta()
  local r, meta = try('HMGET', META, unpack(META_FIELDS)), {}
  if not r then return meta end
  for i, f in ipairs(META_FIELDS) do
    if r[i] then meta[f] = r[i] end
  end
  meta.len, meta.n, meta.audit = tonumber(meta.len), tonumber(meta.n), tonumber(meta.audit)
  return meta
end

-- What the reply tells besides the coins changed (see the prelude).
local stale, aged, notes = {}, {}, {}

-- note adds a note (coin, what, detail) to the reply.
local function note(id, what, detail)
  notes[#notes + 1] = id
  notes[#notes + 1] = what
  notes[#notes + 1] = detail
end

-- agedout adds a coin aged out (its id, order and batch index, 0 for
-- none) to the reply.
local function agedout(id, order, idx)
  aged[#aged + 1] = id
  aged[#aged + 1] = order
  aged[#aged + 1] = tostring(idx)
end

-- judge compares a batch price with the stored one: 'stale', 'same'
-- (nothing to write) or 'new'. Of two prices of the same time the higher
-- stays (see higher), whichever came first: a replay or a second writer
-- cannot flip it.
local function judge(c, oorder, oobj)
  if not oorder then return 'new' end
  if older(c.order, oorder) then
    if FUTURE ~= '' and older(FUTURE, oorder) then
      note(c.id, 'future', oorder)
      return 'new'
    end
    return 'stale'
  end
  if c.order == oorder then
    if c.obj == oobj then return 'same' end
    -- Both objects start with the coin's prefix and end in '"}'.
    if not higher(c.price, string.sub(oobj, #c.prefix + 1, -3)) then return 'stale' end
  end
  return 'new'
end

-- The start of the age-out: AGE before the newest price, or before the
-- clock when that is earlier (a future-dated price must not age out the
-- rest); nil when nothing ages out.
local function cutoff(newest)
  if AGE == '' or not newest then return nil end
  local base = newest
  if older(NOW, base) then base = NOW end
  return minus(base, AGE)
end

-- expire sets every key's time to live, when there is one.
local function expire()
  if TTL > 0 then
    for _, k in ipairs({DOC, STATE, IDS, TIMES, META}) do redis.call('PEXPIRE', k, TTL) end
  end
end
