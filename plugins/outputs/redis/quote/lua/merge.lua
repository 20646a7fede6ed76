-- Reads that fail (a key of another type) send the merge to checktypes.
local function try(...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then return nil end
  return r
end

local meta = try('HMGET', META, 'v', 'head', 'len', 'n', 'newest', 'audit', 'sha', 'ix', 'oldest') or {}

local stale, aged, notes = {}, {}, {}
local function note(id, what, detail)
  notes[#notes + 1] = id
  notes[#notes + 1] = what
  notes[#notes + 1] = detail
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

local function expire()
  if TTL > 0 then
    for _, k in ipairs({DOC, STATE, IDS, TIMES, META}) do redis.call('PEXPIRE', k, TTL) end
  end
end

local function header(newest)
  return '{"timestamp":' .. doctime(newest) .. ',"quote":' .. QUOTE .. ',"prices":['
end

-- docentry reads the entry of our document starting at p in s: its coin
-- id, its price object and where the next entry starts; nil when no
-- complete entry of ours starts there. The price is checked unless the
-- document is known to be ours byte for byte (trusted).
local function docentry(s, p, trusted)
  if string.sub(s, p, p + 6) ~= '{"id":"' then return nil end
  local q = string.find(s, '","price":"', p + 6, true)
  if not q then return nil end
  local e = string.find(s, '"}', q + 11, true)
  if not e or (not trusted and not plain(string.sub(s, q + 11, e - 1))) then return nil end
  local id = string.sub(s, p + 7, q - 1)
  if string.find(id, '\\', 1, true) then
    local ok, dec = pcall(cjson.decode, string.sub(s, p + 6, q))
    if not ok or type(dec) ~= 'string' then return nil end
    id = dec
  end
  return id, string.sub(s, p, e + 1), e + 3
end

-- A document up to WHOLE bytes keeps the lean layout: no ids index, the
-- document read whole and checked byte for byte (its SHA1 in the meta),
-- written whole. A larger one keeps the indexed layout: read in windows
-- found by rank, written from its first changed byte.
local WHOLE = 32768

-- plan lays out the new document: items between commas, each a run of the
-- old document ({a, b}: bytes a..b) or a new entry ({text}); its size with
-- a header of hlen bytes; and where the audit goes on (the first byte that
-- stands for old bytes at or after audit).
local function plan(edits, start, last, hlen, audit)
  local items, run = {}, start
  for _, e in ipairs(edits) do
    if e.p - 2 >= run then items[#items + 1] = {a = run, b = e.p - 2} end
    if e.text then items[#items + 1] = {text = e.text, a = e.p, b = e.p} end
    if e.kind == 0 then run = e.p else run = e.p + #e.aobj + 1 end
  end
  if run <= last then items[#items + 1] = {a = run, b = last} end
  local size, cursor = hlen + 1, nil
  for i, it in ipairs(items) do
    if i > 1 then size = size + 1 end
    if not cursor and audit <= it.b then cursor = size + math.max(0, audit - it.a) end
    if it.text then size = size + #it.text else size = size + it.b - it.a + 1 end
  end
  size = size + 1 -- ']}' after the last byte counted
  if not cursor or cursor > size - 2 then cursor = hlen + 1 end
  return items, size, cursor
end

-- ordered sorts the edits by place and checks that new coins before the
-- same entry come in byte order (the batch's order).
local function ordered(edits)
  local function less(a, b)
    if a.p ~= b.p then return a.p < b.p end
    if a.kind ~= b.kind then return a.kind < b.kind end
    return a.idx < b.idx
  end
  for i = 2, #edits do
    if less(edits[i], edits[i - 1]) then
      table.sort(edits, less)
      break
    end
  end
  for i = 2, #edits do
    local a, b = edits[i - 1], edits[i]
    if a.kind == 0 and b.kind == 0 and a.p == b.p and not before(a.id, b.id) then return false end
  end
  return true
end

-- verdicts judges the batch's coins against their stored entries (olds,
-- in batch order): the stale ones are reported, the others returned.
local function verdicts(olds)
  local accepted = {}
  for i, c in ipairs(batch) do
    if olds[i] then
      c.oorder, c.oobj = parsewith(c.prefix, olds[i])
      if not c.oorder then return nil end
    end
    c.verdict = judge(c, c.oorder, c.oobj)
    if c.verdict == 'stale' then
      stale[#stale + 1] = tostring(c.idx)
      stale[#stale + 1] = c.oorder
    elseif c.verdict == 'new' then
      accepted[#accepted + 1] = c
    end
  end
  return accepted
end

local function agedout(id, order, idx)
  aged[#aged + 1] = id
  aged[#aged + 1] = order
  aged[#aged + 1] = tostring(idx)
end

-- ageout finds the coins to drop for age_out: the batch's by their new
-- (or kept) time, the others from the times index, oldest first, each
-- checked against the state. It returns them ({id, order, object}), or nil
-- and why the full path must run.
local function ageout(newest)
  local gone = {}
  local cut = cutoff(newest)
  if not cut then return gone end
  for _, c in ipairs(batch) do
    if c.verdict == 'new' and older(c.order, cut) then
      c.aged = true
      agedout(c.id, c.order, c.idx)
      if c.oorder then gone[#gone + 1] = {c.id, c.oorder, c.oobj} end
    elseif c.verdict ~= 'new' and c.oorder and older(c.oorder, cut) then
      c.aged = true
      agedout(c.id, c.oorder, 0)
      gone[#gone + 1] = {c.id, c.oorder, c.oobj}
    end
  end
  local others, orders = {}, {}
  for _, m in ipairs(redis.call('ZRANGEBYLEX', TIMES, '-', '(' .. cut, 'LIMIT', 0, AGE_LIMIT)) do
    local order, id = string.sub(m, 1, 20), string.sub(m, 22)
    if not isorder(order) or string.sub(m, 21, 21) ~= ' ' then return nil, 'index' end
    if not byid[id] then
      others[#others + 1] = id
      orders[#orders + 1] = order
    end
  end
  local entries = call('HMGET', STATE, others)
  for i, id in ipairs(others) do
    local order, obj = parse(id, entries[i])
    if order ~= orders[i] then return nil, 'index' end
    agedout(id, order, 0)
    gone[#gone + 1] = {id, order, obj}
  end
  return gone
end

-- writestate writes the accepted prices and the coins gone to the state,
-- and their times to the times index (indexed layout) or to the meta's
-- t:<id> fields (lean layout: written with the rest of the meta, from the
-- lists returned). It returns the coins changed.
local function writestate(accepted, gone, lean)
  local hset, hdel, tadd, trem = {}, {}, {}, {}
  local changed = #gone
  for _, c in ipairs(accepted) do
    if not c.aged then
      changed = changed + 1
      hset[#hset + 1] = c.id
      hset[#hset + 1] = entry(c.order, c.obj)
      if lean then
        tadd[#tadd + 1] = 't:' .. c.id
        tadd[#tadd + 1] = c.order
      elseif c.oorder ~= c.order then
        if c.oorder then trem[#trem + 1] = c.oorder .. ' ' .. c.id end
        tadd[#tadd + 1] = 0
        tadd[#tadd + 1] = c.order .. ' ' .. c.id
      end
    end
  end
  for _, g in ipairs(gone) do
    hdel[#hdel + 1] = g[1]
    if lean then trem[#trem + 1] = 't:' .. g[1] else trem[#trem + 1] = g[2] .. ' ' .. g[1] end
  end
  call('HSET', STATE, hset)
  call('HDEL', STATE, hdel)
  if lean then return changed, tadd, trem end
  call('ZREM', TIMES, trem)
  call('ZADD', TIMES, tadd)
  return changed
end

