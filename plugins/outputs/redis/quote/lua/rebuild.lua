-- full rebuilds the indexes and the document from the state (or, when the
-- state is missing, from a document of ours and its times index, or from
-- the coins the client imported from the document). Its cost grows with
-- all the coins, so the sorting, the newest time and the aging are left to
-- the sorted sets, in C.
local function full(why, meta)
  stale, aged, notes = {}, {}, {}
  -- The document and the state must be what quote mode keeps there: that
  -- is for an operator to fix, and nothing is written. The indexes and the
  -- meta are ours alone: rebuilt whatever they hold.
  local dtype, stype = redis.call('TYPE', DOC).ok, redis.call('TYPE', STATE).ok
  if dtype ~= 'none' and dtype ~= 'string' then
    return redis.error_reply('WRONGTYPE the quote document ' .. DOC .. ' holds a ' .. dtype .. ', not a string')
  end
  if stype ~= 'none' and stype ~= 'hash' then
    return redis.error_reply('WRONGTYPE the quote state ' .. STATE .. ' holds a ' .. stype .. ', not a hash')
  end
  local doc = false
  if dtype == 'string' then doc = redis.call('GET', DOC) end
  -- Ours: the document is the one written here last, as far as its meta
  -- tells (length, header, end, and its SHA1 when small).
  local head = meta.head
  local ours = doc and meta.v == '2' and head and meta.len == #doc and
    string.sub(doc, 1, #head) == head and string.sub(doc, -2) == ']}' and
    (meta.sha == '' or meta.sha == redis.sha1hex(doc))
  local h = ours and #head
  local order, obj = {}, {} -- coin id -> its order, its price object
  if stype == 'hash' then
    local all = redis.call('HGETALL', STATE)
    local junk, inhash = {}, {}
    for i = 1, #all, 2 do
      local o, j = parse(all[i], all[i + 1])
      inhash[all[i]] = true
      if o then order[all[i]], obj[all[i]] = o, j else junk[#junk + 1] = i end
    end
    local times
    if #junk > 0 then
      -- An unreadable entry is repaired from the document and the times
      -- index when both are ours, else dropped.
      local fromdoc = ours and docentries(doc, h)
      times = fromdoc and timesmap(meta)
      for _, i in ipairs(junk) do
        local id = all[i]
        local j, o = fromdoc and fromdoc[id], times and times[id]
        if j and o and validid(id) then
          order[id], obj[id] = o, j
          note(id, 'repaired', head100(all[i + 1]))
        else
          note(id, 'dropped', head100(all[i + 1]))
        end
      end
    end
    -- A coin of our document whose entry is gone from the state (an HDEL
    -- by another program) is restored with its own time from the times
    -- index, as when the whole state is deleted; with no time left it is
    -- dropped. The notes name up to NAMED coins of each, then count them.
    -- Not looked for when the fast path ran out of step only because the
    -- document grew or a future-dated time gave way: it had found the
    -- state whole.
    local at, missing = ours and why ~= 'grow' and why ~= 'newest' and docindex(doc), {}
    if at then
      for id in pairs(at) do
        if not inhash[id] then missing[#missing + 1] = id end
      end
    end
    if #missing > 0 then
      times = times or timesmap(meta)
      if #missing <= 1000 then table.sort(missing, before) end
      local back, lost = 0, 0
      for _, id in ipairs(missing) do
        local o, did, j = times[id], docentry(doc, at[id])
        if o and did == id then
          order[id], obj[id] = o, j
          back = back + 1
          if back <= NAMED then note(id, 'recovered', o) end
        else
          lost = lost + 1
          if lost <= NAMED then note(id, 'lost', '') end
        end
      end
      if back > 0 then note('', 'recovered', tostring(back)) end
      if lost > 0 then note('', 'lost', tostring(lost)) end
      -- Nothing else changed (no entry the document lacks, none junk):
      -- the notes say all there is.
      local extra = #junk
      for i = 1, #all, 2 do
        if not at[all[i]] then extra = extra + 1 end
      end
      if why == 'state' and extra == 0 then why = 'restored' end
    end
  elseif doc then
    local fromdoc = ours and docentries(doc, h)
    local times = fromdoc and timesmap(meta)
    local nt, nd = 0, 0
    if times then
      for _ in pairs(times) do nt = nt + 1 end
      for _ in pairs(fromdoc) do nd = nd + 1 end
    end
    if fromdoc and nt == nd and nd == meta.n then
      -- Our document, its state deleted: each coin's own time is in the index.
      local restored = 0
      for id, j in pairs(fromdoc) do
        if times[id] then
          order[id], obj[id] = times[id], j
          restored = restored + 1
        else
          note(id, 'dropped', 'no time in the index')
        end
      end
      note('', 'restored', tostring(restored))
      why = 'restored'
    elseif TAKEOVER ~= '' and redis.sha1hex(doc) == TAKEOVER then
      for _, c in ipairs(imports) do order[c.id], obj[c.id] = c.order, c.obj end
      why = 'takeover'
    else
      return {'takeover', doc, ours and 1 or 0}
    end
  elseif why == 'new' then
    why = 'fresh'
  end

  local changed, fromBatch = 0, {}
  for _, c in ipairs(batch) do
    local o = order[c.id]
    c.verdict = judge(c, o, obj[c.id])
    if c.verdict == 'stale' then
      stale[#stale + 1] = tostring(c.idx)
      stale[#stale + 1] = o
    elseif c.verdict == 'new' then
      order[c.id], obj[c.id], fromBatch[c.id] = c.order, c.obj, c.idx
      changed = changed + 1
    end
  end

  -- Writes: the state and the indexes; the newest time and the coins to
  -- age out read back from the times; then the document in the ids' order.
  redis.call('DEL', STATE, IDS, TIMES, META)
  local hset, iadd, tadd, times = {}, {}, {}, {}
  for id, o in pairs(order) do
    local t = times[o]
    if not t then
      t = doctime(o)
      times[o] = t
    end
    hset[#hset + 1] = id
    hset[#hset + 1] = o .. ' ' .. t .. ' ' .. obj[id]
    iadd[#iadd + 1] = 0
    iadd[#iadd + 1] = id
    tadd[#tadd + 1] = 0
    tadd[#tadd + 1] = o .. ' ' .. id
  end
  if #hset == 0 then
    if doc then redis.call('DEL', DOC) end
    return {'ok', changed, stale, aged, notes, why}
  end
  call('HSET', STATE, hset)
  call('ZADD', IDS, iadd)
  call('ZADD', TIMES, tadd)
  local newest = string.sub(redis.call('ZREVRANGEBYLEX', TIMES, '+', '-', 'LIMIT', 0, 1)[1], 1, 20)
  local cut = cutoff(newest)
  local dropped = {}
  if cut then
    local hdel, trem = {}, {}
    for _, m in ipairs(redis.call('ZRANGEBYLEX', TIMES, '-', '(' .. cut)) do
      local id = string.sub(m, 22)
      dropped[id] = true
      aged[#aged + 1] = id
      aged[#aged + 1] = string.sub(m, 1, 20)
      aged[#aged + 1] = tostring(fromBatch[id] or 0)
      if fromBatch[id] then changed = changed - 1 end
      hdel[#hdel + 1] = id
      trem[#trem + 1] = m
    end
    call('HDEL', STATE, hdel)
    call('ZREM', IDS, hdel)
    call('ZREM', TIMES, trem)
  end
  local objs = {}
  for i, id in ipairs(redis.call('ZRANGE', IDS, 0, -1)) do objs[i] = obj[id] end
  local nhead = header(newest)
  local out = nhead .. table.concat(objs, ',') .. ']}'
  if out ~= doc then redis.call('SET', DOC, out) end
  -- The layout for the size: a small document keeps its coins' times in
  -- the meta, and no indexes.
  local ix, sum = '1', ''
  local oldest = string.sub(redis.call('ZRANGEBYLEX', TIMES, '-', '+', 'LIMIT', 0, 1)[1], 1, 20)
  if #out <= WHOLE then
    ix, sum = '0', redis.sha1hex(out)
    local tset = {}
    for id, o in pairs(order) do
      if obj[id] and not dropped[id] then
        tset[#tset + 1] = 't:' .. id
        tset[#tset + 1] = o
      end
    end
    call('HSET', META, tset)
    redis.call('DEL', IDS, TIMES)
  end
  redis.call('HSET', META, 'v', '2', 'ix', ix, 'head', nhead, 'len', #out, 'n', #objs, 'newest', newest,
    'oldest', oldest, 'audit', #nhead + 1, 'sha', sum)
  expire()
  if out ~= doc and CHANNEL ~= '' then redis.call('PUBLISH', CHANNEL, out) end
  return {'ok', changed, stale, aged, notes, why}
end
