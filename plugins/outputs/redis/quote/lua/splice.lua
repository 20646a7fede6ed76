-- The splice: the usual merge, at a cost that grows with what changed. It
-- reads and checks all it will use (the document against the meta, the
-- counts of the state and the indexes, every entry it touches, the audit's
-- window) before its first write; anything out of step hands the merge to
-- the rebuild, having written nothing.

-- counted checks that the state and both indexes hold n coins each: nil,
-- or why the rebuild must run.
local function counted(n)
  local hl, zi, zt = try('HLEN', STATE), try('ZCARD', IDS), try('ZCARD', TIMES)
  if not hl or not zi or not zt then return 'types' end
  if hl ~= n or zi ~= n or zt ~= n then return 'state' end
  return nil
end

-- window reads the entries to compare with the state: up to AUDIT of them
-- from the cursor (AUDIT_VOUCHED in a small document its SHA1 vouches
-- for); or, in a small document its SHA1 does not vouch for (another
-- writer, or an older script beside this one, wrote it last), all of them,
-- which must fill it. It returns their ids and objects and where the
-- window ends, or nil and why the rebuild must run.
local function window(d, cursor, n)
  local ids, objs, q = {}, {}, 1
  local whole = d.len <= WHOLE and not d.vouched
  if whole then cursor = d.start end
  local s = bytes(d, cursor, whole and d.last or math.min(cursor + AUDIT * 64, d.last))
  local limit = whole and n or math.min(d.vouched and AUDIT_VOUCHED or AUDIT, n)
  while #objs < limit do
    local id, obj, nxt = docentry(s, q, d.vouched)
    if not id then break end
    ids[#ids + 1], objs[#objs + 1], q = id, obj, nxt
  end
  if whole and (#objs ~= n or q ~= #s + 2) then return nil, 'document' end
  if #objs == 0 then -- an entry longer than the window
    local p, id, obj, nxt = entryat(d, cursor)
    if p ~= cursor then return nil, 'document' end
    ids[1], objs[1], q = id, obj, nxt - cursor + 1
  end
  return ids, objs, cursor + q - 1
end

-- audited reads the batch's stored entries and those of the audit's window
-- in one HMGET, and compares the window with the state. It returns the
-- stored entries (the batch's first), the times members of the window's
-- coins and where the window ends; or nil and why the rebuild must run.
local function audited(d, cursor, n)
  if not cursor or cursor < d.start or cursor > d.last then cursor = d.start end
  local wids, objs, nxt = window(d, cursor, n)
  if not wids then return nil, objs end
  local ids = {}
  for i, c in ipairs(batch) do ids[i] = c.id end
  for i, id in ipairs(wids) do ids[#batch + i] = id end
  local olds, members = call('HMGET', STATE, ids), {}
  for i, obj in ipairs(objs) do
    local e = olds[#batch + i]
    if not stored(e, obj) then return nil, 'audit' end
    members[i] = string.sub(e, 1, 20) .. ' ' .. wids[i]
  end
  return olds, members, nxt
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

-- allin tells whether every member of list is in the sorted set key.
local function allin(key, list)
  for i = 1, #list, CHUNK do
    local r = redis.pcall('ZMSCORE', key, unpack(list, i, math.min(i + CHUNK - 1, #list)))
    if type(r) == 'table' and r.err then -- before Redis 6.2
      for j = i, math.min(i + CHUNK - 1, #list) do
        if not redis.call('ZSCORE', key, list[j]) then return false end
      end
    else
      for _, v in ipairs(r) do if not v then return false end end
    end
  end
  return true
end

-- indexed tells whether the indexes agree with the state for the coins
-- read: each coin of the batch the state has is in the ids, and no other;
-- the times hold the stored times of those coins and of the window's
-- (members).
local function indexed(members)
  local present = {}
  for _, c in ipairs(batch) do
    if c.oorder then
      present[#present + 1] = c.id
      members[#members + 1] = c.oorder .. ' ' .. c.id
    elseif redis.call('ZSCORE', IDS, c.id) then
      return false
    end
  end
  return allin(IDS, present) and allin(TIMES, members)
end

-- newestafter is the newest order once the accepted prices are in: the
-- meta's, or, when a future-dated price gave way to an older one, the
-- newest in the times index past the entries being replaced. nil when the
-- index holds junk.
local function newestafter(accepted, newest)
  local replaced, recompute, k = {}, false, 0
  for _, c in ipairs(accepted) do
    if c.oorder and c.oorder ~= c.order then
      replaced[c.oorder .. ' ' .. c.id] = true
      k = k + 1
      if older(c.order, c.oorder) then recompute = true end
    end
  end
  if recompute then
    newest = false
    for _, m in ipairs(redis.call('ZREVRANGEBYLEX', TIMES, '+', '-', 'LIMIT', 0, k + 1)) do
      if not replaced[m] then
        newest = string.sub(m, 1, 20)
        if not isorder(newest) then return nil end
        break
      end
    end
  end
  for _, c in ipairs(accepted) do
    if not newest or older(newest, c.order) then newest = c.order end
  end
  return newest
end

-- ageout finds the coins to drop for age_out: the batch's by their new
-- (or kept) time, the others from the times index, oldest first, each
-- checked against the state. It returns them ({id, order, object}), or nil
-- and why the rebuild must run.
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

-- newcoin is the edit that adds coin c: before the next coin in byte order
-- (its anchor, with its stored object), or at the end; or nil and why the
-- rebuild must run.
local function newcoin(c)
  local e = {kind = 0, text = c.obj, id = c.id, idx = c.idx}
  local nxt = redis.call('ZRANGEBYLEX', IDS, '(' .. c.id, '+', 'LIMIT', 0, 1)[1]
  if not nxt then return e end
  local b = byid[nxt]
  if b then
    e.aobj = b.oobj
  else
    local order
    order, e.aobj = parse(nxt, redis.call('HGET', STATE, nxt))
    if not order then return nil, 'entry' end
  end
  if not e.aobj then return nil, 'index' end
  e.anchor = nxt
  return e
end

-- place finds where each edit goes in d: a replaced or deleted entry at
-- itself, found by its text when it can be (see find); a new coin before
-- the next coin the ids name, found by its rank, or at the end. The entry
-- before a new coin must be of a lower id: an ids index that lost a coin
-- (its count kept by a ghost) would otherwise put it out of order. nil, or
-- why the rebuild must run.
local function place(d, edits, n)
  local byrank = {}
  for _, e in ipairs(edits) do
    local why
    if e.kind == 1 then
      e.p, why = find(d, e.anchor, e.aobj, n, true)
    elseif e.anchor then
      if not byrank[e.anchor] then byrank[e.anchor], why = find(d, e.anchor, e.aobj, n, false) end
      e.p = byrank[e.anchor]
    else
      e.p = d.last + 2
    end
    if not e.p then return why end
    if e.kind == 0 then
      local prev = previd(d, e.p)
      if prev == false or (prev and not before(prev, e.id)) then return 'index' end
    end
  end
  return nil
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

-- findedits lists the edits of d in place order, each anchored at an entry
-- of the document as it is: a replaced or deleted entry at itself, a new
-- coin before the next coin in byte order (or at the end). It returns
-- them, or nil and why the rebuild must run.
local function findedits(d, accepted, gone, n)
  local edits = {}
  for _, c in ipairs(accepted) do
    if not c.aged and not c.oobj then
      local e, why = newcoin(c)
      if not e then return nil, why end
      edits[#edits + 1] = e
    elseif not c.aged and c.oobj ~= c.obj then
      edits[#edits + 1] = {kind = 1, text = c.obj, anchor = c.id, aobj = c.oobj, idx = c.idx}
    end
  end
  for _, g in ipairs(gone) do
    edits[#edits + 1] = {kind = 1, anchor = g[1], aobj = g[3], idx = 0}
  end
  local why = place(d, edits, n)
  if why then return nil, why end
  sortedits(edits)
  return edits
end

-- writestate writes the accepted prices and the coins gone to the state
-- and their times to the times index. It returns the coins changed.
local function writestate(accepted, gone)
  local hset, hdel, tadd, trem = {}, {}, {}, {}
  for _, c in ipairs(accepted) do
    if not c.aged then
      hset[#hset + 1] = c.id
      hset[#hset + 1] = entry(c.order, c.obj)
      if c.oorder ~= c.order then
        if c.oorder then trem[#trem + 1] = c.oorder .. ' ' .. c.id end
        tadd[#tadd + 1] = 0
        tadd[#tadd + 1] = c.order .. ' ' .. c.id
      end
    end
  end
  for _, g in ipairs(gone) do
    hdel[#hdel + 1] = g[1]
    trem[#trem + 1] = g[2] .. ' ' .. g[1]
  end
  call('HSET', STATE, hset)
  call('HDEL', STATE, hdel)
  call('ZREM', TIMES, trem)
  call('ZADD', TIMES, tadd)
  return #hset / 2 + #gone
end

-- writeids adds the new coins to the ids and removes the coins gone. It
-- returns how many coins there are after, of n before.
local function writeids(accepted, gone, n)
  local iadd, irem = {}, {}
  for _, c in ipairs(accepted) do
    if not c.aged and not c.oorder then
      iadd[#iadd + 1] = 0
      iadd[#iadd + 1] = c.id
    end
  end
  for _, g in ipairs(gone) do irem[#irem + 1] = g[1] end
  call('ZREM', IDS, irem)
  call('ZADD', IDS, iadd)
  return n + #iadd / 2 - #irem
end

-- splice merges the batch into a document of this layout (meta, read by
-- readmeta). It returns the reply, or nil and why the rebuild must run
-- instead, having written nothing.
local function splice(meta)
  local n, newest = meta.n, meta.newest
  if not meta.head or not meta.len or not n or n < 1 or not isorder(newest) then return nil, 'meta' end
  local d, why = opendoc(meta)
  if not d then return nil, why end
  why = counted(n)
  if why then return nil, why end
  local olds, members, cursor = audited(d, meta.audit, n)
  if not olds then return nil, members end
  local accepted = verdicts(olds)
  if not accepted then return nil, 'entry' end
  if not indexed(members) then return nil, 'index' end
  newest = newestafter(accepted, newest)
  if not newest then return nil, 'index' end
  local gone, edits
  gone, why = ageout(newest)
  if not gone then return nil, why end
  edits, why = findedits(d, accepted, gone, n)
  if not edits then return nil, why end
  local nhead = header(newest)
  local items, size
  items, size, cursor = plan(d, edits, #nhead, cursor)

  -- Everything is read and checked: the writes, none of which can fail.
  local changed = writestate(accepted, gone)
  n = writeids(accepted, gone, n)
  if n == 0 then
    -- Every coin aged out: no document rather than an empty one.
    redis.call('DEL', DOC, STATE, IDS, TIMES, META)
    return {'ok', changed, stale, aged, notes, ''}
  end
  local out = writedoc(d, edits, items, nhead, size)
  redis.call('HSET', META, 'head', nhead, 'len', size, 'n', n, 'newest', newest, 'audit', cursor,
    'sha', out and docsum(out) or '')
  expire()
  if CHANNEL ~= '' and (#edits > 0 or nhead ~= d.head) then
    redis.call('PUBLISH', CHANNEL, out or redis.call('GET', DOC))
  end
  return {'ok', changed, stale, aged, notes, ''}
end
