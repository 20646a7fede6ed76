-- indexed merges into a document of the indexed layout: it checks the
-- document by its length, header and end, every entry it touches and the
-- audit's window; finds entries by rank; and writes from the first byte
-- that changes. It returns the reply, or nil and the reason the full path
-- must run instead, having written nothing.
local function indexed(meta)
  local head, len, n, newest = meta.head, meta.len, meta.n, meta.newest
  if type(head) ~= 'string' or not len or not n or n < 1 or not isorder(newest) then return nil, 'meta' end
  local h = #head
  local start, last = h + 1, len - 2
  if try('STRLEN', DOC) ~= len then return nil, 'document' end
  if redis.call('GETRANGE', DOC, 0, h - 1) ~= head or redis.call('GETRANGE', DOC, -2, -1) ~= ']}' then
    return nil, 'document'
  end
  local hl, zi, zt = try('HLEN', STATE), try('ZCARD', IDS), try('ZCARD', TIMES)
  if not hl or not zi or not zt then return nil, 'types' end
  if hl ~= n or zi ~= n or zt ~= n then return nil, 'state' end

  -- bytes from..to of the document (1-based, inclusive).
  local function bytes(from, to)
    if to < from then return '' end
    return redis.call('GETRANGE', DOC, from - 1, to - 1)
  end

  -- entryat finds the first entry starting at byte m or later: its start,
  -- id, object and the start of the next one.
  local function entryat(m)
    local w = 512
    while true do
      local to = math.min(m + w - 1, last)
      local s = bytes(m, to)
      local i = string.find(s, '{"id":"', 1, true)
      if i then
        local id, obj, nxt = docentry(s, i)
        if id then return m + i - 1, id, obj, m + nxt - 1 end
      end
      if to >= last then return nil end
      w = w * 4
    end
  end

  -- locate finds the entry of rank r (0-based) by interpolation between
  -- entries of known rank: a handful of windows and ZRANKs.
  local function locate(r)
    local lo, rlo, hi, rhi = start, 0, last + 2, n
    for _ = 1, 100 do
      local m = lo
      if r > rlo then
        m = lo + math.floor((hi - lo) * (r - rlo) / (rhi - rlo))
        if m <= lo then m = lo + 1 end
      end
      local p, id, obj, nxt = entryat(m)
      if not p or p >= hi then
        if m <= lo + 1 then return nil end
        hi = m
      else
        local rp = redis.call('ZRANK', IDS, id)
        if not rp then return nil end
        if rp == r then return p, id, obj end
        if rp < r then
          lo, rlo = nxt, rp + 1
          if lo > last + 1 then return nil end
        else
          hi, rhi = p, rp
        end
      end
    end
    return nil
  end

  -- The audit's window: one window of bytes from the cursor.
  local audit = meta.audit
  if not audit or audit < start or audit > last then audit = start end
  local ids, wobjs = {}, {}
  for i, c in ipairs(batch) do ids[i] = c.id end
  do
    local s = bytes(audit, math.min(audit + AUDIT * 64, last))
    local q = 1
    while #wobjs < math.min(AUDIT, n) do
      local id, obj, nxt = docentry(s, q)
      if not id then break end
      ids[#ids + 1], wobjs[#wobjs + 1], q = id, obj, nxt
    end
    if #wobjs == 0 then
      local p, id, obj, nxt = entryat(audit)
      if p ~= audit then return nil, 'document' end
      ids[#ids + 1], wobjs[1], q = id, obj, nxt - audit + 1
    end
    audit = audit + q - 1
  end
  local olds = call('HMGET', STATE, ids)
  local members = {}
  for i, obj in ipairs(wobjs) do
    local e = olds[#batch + i]
    if not stored(e, obj) then return nil, 'audit' end
    members[#members + 1] = string.sub(e, 1, 20) .. ' ' .. ids[#batch + i]
  end
  local accepted = verdicts(olds)
  if not accepted then return nil, 'entry' end

  -- Every coin the state has is in the ids, with its time in the times;
  -- no other coin of the batch is.
  local present = {}
  for i, c in ipairs(batch) do
    if c.oorder then
      present[#present + 1] = c.id
      members[#members + 1] = c.oorder .. ' ' .. c.id
    elseif redis.call('ZSCORE', IDS, c.id) then
      return nil, 'index'
    end
  end
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
  if not allin(IDS, present) or not allin(TIMES, members) then return nil, 'index' end

  -- The newest time after the merge: kept in the meta; looked up in the
  -- index only when a future-dated price gave way to an older one.
  local replaced, recompute, k = {}, false, 0
  for _, c in ipairs(accepted) do
    if c.oorder and c.oorder ~= c.order then
      replaced[c.oorder .. ' ' .. c.id] = true
      k = k + 1
      if older(c.order, c.oorder) then recompute = true end
    end
  end
  if recompute then
    newest = nil
    for _, m in ipairs(redis.call('ZREVRANGEBYLEX', TIMES, '+', '-', 'LIMIT', 0, k + 1)) do
      if not replaced[m] then
        newest = string.sub(m, 1, 20)
        if not isorder(newest) then return nil, 'index' end
        break
      end
    end
  end
  for _, c in ipairs(accepted) do
    if not newest or older(newest, c.order) then newest = c.order end
  end

  local gone, err = ageout(newest)
  if not gone then return nil, err end

  -- The edits, each anchored at an entry of the document as it is: a
  -- replaced or deleted entry at itself, a new coin before the next coin
  -- in byte order (or at the end), located by rank.
  local edits = {}
  for _, c in ipairs(accepted) do
    if not c.aged then
      if not c.oobj then
        local nxt = redis.call('ZRANGEBYLEX', IDS, '(' .. c.id, '+', 'LIMIT', 0, 1)[1]
        local e = {kind = 0, text = c.obj, id = c.id, idx = c.idx}
        if nxt then
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
        end
        edits[#edits + 1] = e
      elseif c.oobj ~= c.obj then
        edits[#edits + 1] = {kind = 1, text = c.obj, anchor = c.id, aobj = c.oobj, idx = c.idx}
      end
    end
  end
  for _, g in ipairs(gone) do
    edits[#edits + 1] = {kind = 1, anchor = g[1], aobj = g[3], idx = 0}
  end
  local at = {}
  for _, e in ipairs(edits) do
    if e.anchor then
      if not at[e.anchor] then
        local rank = redis.call('ZRANK', IDS, e.anchor)
        if not rank then return nil, 'index' end
        local p, id, obj = locate(rank)
        if not p or id ~= e.anchor or obj ~= e.aobj then return nil, 'document' end
        at[e.anchor] = p
      end
      e.p = at[e.anchor]
    else
      e.p = last + 2
    end
  end
  sortedits(edits)
  local nhead = header(newest)
  local items, size, cursor = plan(edits, start, last, #nhead, audit)

  -- Everything is read and checked: the writes.
  local changed = writestate(accepted, gone)
  local iadd, irem = {}, {}
  for _, c in ipairs(accepted) do
    if not c.aged and not c.oorder then
      iadd[#iadd + 1] = 0
      iadd[#iadd + 1] = c.id
      n = n + 1
    end
  end
  for _, g in ipairs(gone) do
    irem[#irem + 1] = g[1]
    n = n - 1
  end
  call('ZREM', IDS, irem)
  call('ZADD', IDS, iadd)
  if n == 0 then
    -- Every coin aged out: no document rather than an empty one.
    redis.call('DEL', DOC, STATE, IDS, TIMES, META)
    return {'ok', changed, stale, aged, notes, ''}
  end

  -- In place when the document does not shrink and its header keeps its
  -- length: same-length replacements before anything moves, each alone;
  -- from the first edit that moves bytes, the rest of the document.
  -- Otherwise (Redis strings cannot be cut short) rewritten whole.
  local out
  if #nhead == h and size >= len then
    local j = 1
    while j <= #edits and edits[j].kind == 1 and edits[j].text and #edits[j].text == #edits[j].aobj do
      redis.call('SETRANGE', DOC, edits[j].p - 1, edits[j].text)
      j = j + 1
    end
    if j <= #edits then
      local from = edits[j].p
      local parts, count, run = {}, 0, from
      if from > start then from, count = from - 1, 1 end -- from its comma
      local function put(s)
        if count > 0 then parts[#parts + 1] = ',' end
        parts[#parts + 1] = s
        count = count + 1
      end
      for i = j, #edits do
        local e = edits[i]
        if e.p - 2 >= run then put(bytes(run, e.p - 2)) end
        if e.text then put(e.text) end
        if e.kind == 0 then run = e.p else run = e.p + #e.aobj + 1 end
      end
      if run <= last then put(bytes(run, last)) end
      parts[#parts + 1] = ']}'
      redis.call('SETRANGE', DOC, from - 1, table.concat(parts))
    end
    if nhead ~= head then redis.call('SETRANGE', DOC, 0, nhead) end
  else
    local parts = {nhead}
    for i, it in ipairs(items) do
      if i > 1 then parts[#parts + 1] = ',' end
      parts[#parts + 1] = it.text or bytes(it.a, it.b)
    end
    parts[#parts + 1] = ']}'
    out = table.concat(parts)
    redis.call('SET', DOC, out)
  end
  redis.call('HSET', META, 'head', nhead, 'len', size, 'n', n, 'newest', newest, 'audit', cursor)
  expire()
  if CHANNEL ~= '' and (#edits > 0 or nhead ~= head) then
    redis.call('PUBLISH', CHANNEL, out or redis.call('GET', DOC))
  end
  return {'ok', changed, stale, aged, notes, ''}
end
