-- lean merges into a document of the lean layout. It returns the reply,
-- or nil and the reason the full path must run instead, having written
-- nothing.
local function lean(meta)
  local head, len, n, newest = meta.head, meta.len, meta.n, meta.newest
  if type(head) ~= 'string' or not len or not n or n < 1 or not isorder(newest) then return nil, 'meta' end
  local doc = try('GET', DOC)
  if not doc then return nil, 'types' end
  if #doc ~= len or redis.sha1hex(doc) ~= meta.sha then return nil, 'document' end
  local hl = try('HLEN', STATE)
  if not hl then return nil, 'types' end
  if hl ~= n then return nil, 'state' end
  local start, last = #head + 1, len - 2

  -- The audit's window, read from the document, and the batch's stored
  -- entries, in one HMGET.
  local audit = meta.audit
  if not audit or audit < start or audit > last then audit = start end
  local ids, wobjs = {}, {}
  for i, c in ipairs(batch) do ids[i] = c.id end
  for _ = 1, math.min(AUDIT_LEAN, n) do
    if audit > last then audit = start end
    local id, obj, nxt = docentry(doc, audit, true)
    if not id then return nil, 'document' end
    ids[#ids + 1], wobjs[#wobjs + 1], audit = id, obj, nxt
  end
  local olds = call('HMGET', STATE, ids)
  for i, obj in ipairs(wobjs) do
    if not stored(olds[#batch + i], obj) then return nil, 'audit' end
  end
  local accepted = verdicts(olds)
  if not accepted then return nil, 'entry' end
  local oldest = meta.oldest -- no later than the oldest time
  if not isorder(oldest) then return nil, 'meta' end
  for _, c in ipairs(accepted) do
    if c.oorder and older(c.order, c.oorder) then return nil, 'newest' end -- a future-dated price gave way
    if older(newest, c.order) then newest = c.order end
    if older(c.order, oldest) then oldest = c.order end
  end

  -- Aging out, once the oldest coin may be old enough: every entry read,
  -- and the oldest time found again.
  local gone = {}
  local cut = cutoff(newest)
  if cut and older(oldest, cut) then
    local cur = {}
    local all = redis.call('HGETALL', STATE)
    for i = 1, #all, 2 do
      local o, j = parse(all[i], all[i + 1])
      if not o then return nil, 'entry' end
      cur[all[i]] = {o, j}
    end
    for _, c in ipairs(batch) do
      if c.verdict == 'new' then
        if older(c.order, cut) then
          c.aged = true
          agedout(c.id, c.order, c.idx)
          if c.oobj then gone[#gone + 1] = {c.id, c.oorder, c.oobj} end
          cur[c.id] = nil
        else
          cur[c.id] = {c.order}
        end
      end
    end
    oldest = newest
    for id, o in pairs(cur) do
      if older(o[1], cut) then
        agedout(id, o[1], 0)
        gone[#gone + 1] = {id, o[1], o[2]}
        if byid[id] then byid[id].aged = true end
      elseif older(o[1], oldest) then
        oldest = o[1]
      end
    end
  end

  -- The edits, found in the document: a replaced or deleted entry by its
  -- text, a new coin by a binary search of the ids.
  local edits = {}
  for _, c in ipairs(accepted) do
    if not c.aged then
      if not c.oobj then
        local lo, hi = start, last + 2
        while lo < hi do
          local m = math.floor((lo + hi) / 2)
          local p = string.find(doc, '{"id":"', m, true)
          if not p or p >= hi then
            hi = m
          else
            local id, _, nxt = docentry(doc, p, true)
            if not id or id == c.id then return nil, 'state' end
            if before(id, c.id) then lo = nxt else hi = p end
          end
        end
        edits[#edits + 1] = {kind = 0, text = c.obj, id = c.id, idx = c.idx, p = lo}
      elseif c.oobj ~= c.obj then
        edits[#edits + 1] = {kind = 1, text = c.obj, aobj = c.oobj, idx = c.idx}
      end
    end
  end
  for _, g in ipairs(gone) do edits[#edits + 1] = {kind = 1, aobj = g[3], idx = 0} end
  for _, e in ipairs(edits) do
    if e.aobj then
      e.p = string.find(doc, e.aobj, start, true)
      if not e.p then return nil, 'document' end
    end
  end
  sortedits(edits)
  local nhead = header(newest)
  local items, size, cursor = plan(edits, start, last, #nhead, audit)
  local count = n
  for _, e in ipairs(edits) do
    if e.kind == 0 then count = count + 1 elseif not e.text then count = count - 1 end
  end
  if size > WHOLE then return nil, 'grow' end

  -- Everything is read and checked: the writes.
  local changed, tset, tdel = writestate(accepted, gone, true)
  if count == 0 then
    redis.call('DEL', DOC, STATE, IDS, TIMES, META)
    return {'ok', changed, stale, aged, notes, ''}
  end
  local out = doc
  if #edits > 0 or nhead ~= head then
    local parts = {nhead}
    for i, it in ipairs(items) do
      if i > 1 then parts[#parts + 1] = ',' end
      parts[#parts + 1] = it.text or string.sub(doc, it.a, it.b)
    end
    parts[#parts + 1] = ']}'
    out = table.concat(parts)
    redis.call('SET', DOC, out)
  end
  if out ~= doc then
    redis.call('HSET', META, 'head', nhead, 'len', #out, 'n', count, 'newest', newest, 'oldest', oldest,
      'audit', cursor, 'sha', redis.sha1hex(out), unpack(tset, 1, math.min(#tset, CHUNK)))
  else
    redis.call('HSET', META, 'newest', newest, 'oldest', oldest, 'audit', cursor, unpack(tset, 1, math.min(#tset, CHUNK)))
  end
  if #tset > CHUNK then
    local rest = {}
    for i = CHUNK + 1, #tset do rest[#rest + 1] = tset[i] end
    call('HSET', META, rest)
  end
  call('HDEL', META, tdel)
  expire()
  if out ~= doc and CHANNEL ~= '' then redis.call('PUBLISH', CHANNEL, out) end
  return {'ok', changed, stale, aged, notes, ''}
end
