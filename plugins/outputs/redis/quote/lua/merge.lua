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

-- sortedits sorts the edits by place; new coins at one place in the
-- batch's order, which is byte order (the client sorts the batch).
local function sortedits(edits)
  local function less(a, b)
    if a.p ~= b.p then return a.p < b.p end
    if a.kind ~= b.kind then return a.kind < b.kind end
    return a.idx < b.idx
  end
  for i = 2, #edits do
    if less(edits[i], edits[i - 1]) then
      table.sort(edits, less)
      return
    end
  end
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
