-- The rebuild: the indexes, the meta and the document rebuilt from the
-- state (or, when the state is missing, from a document of ours and its
-- times, or from the coins the client imported from the document). Its
-- cost grows with all the coins, so the sorting, the newest time and the
-- aging are left to the sorted sets, in C. It runs on a first write, an
-- upgrade, a takeover, and whenever the splice finds something out of step.

-- docentries reads a document written here: coin id -> price object.
local function docentries(doc, h)
  local map = {}
  local p, last = h + 1, #doc - 2
  while p <= last do
    local id, obj, nxt = docentry(doc, p)
    if not id then return nil end
    map[id], p = obj, nxt
  end
  return map
end

-- docindex finds the entries of a document written here, cheaply (one
-- match per entry, in C; only an id with an escape is decoded): coin id ->
-- where its entry starts. An entry is read in full (docentry) only when
-- it is used.
local function docindex(doc)
  local at = {}
  for p, id in string.gmatch(doc, '(){"id":"(.-)","price":"') do
    if string.find(id, '\\', 1, true) then
      local ok, dec = pcall(cjson.decode, '"' .. id .. '"')
      if ok and type(dec) == 'string' then at[dec] = p end
    else
      at[id] = p
    end
  end
  return at
end

-- timesmap reads each coin's time, from the times index or, in the
-- previous script's lean layout, from the meta's t:<id> fields: coin id ->
-- order.
local function timesmap(meta)
  local map = {}
  if meta.ix == '0' then
    local all = redis.call('HGETALL', META)
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 2) == 't:' and isorder(all[i + 1]) then map[string.sub(all[i], 3)] = all[i + 1] end
    end
    return map
  end
  if redis.call('TYPE', TIMES).ok ~= 'zset' then return map end
  for _, m in ipairs(redis.call('ZRANGE', TIMES, 0, -1)) do
    local order = string.sub(m, 1, 20)
    if isorder(order) and string.sub(m, 21, 21) == ' ' then map[string.sub(m, 22)] = order end
  end
  return map
end

-- head100 is the first 100 bytes of a stored value, for a note.
local function head100(s)
  if type(s) ~= 'string' then return tostring(s) end
  return string.sub(s, 1, 100)
end

-- keytypes checks that the document and the state are what quote mode
-- keeps there, or absent: another type is for an operator to fix, and
-- nothing is written. It returns their types, or nil and the error reply.
-- (The indexes and the meta are ours alone: rebuilt whatever they hold.)
local function keytypes()
  local dtype, stype = redis.call('TYPE', DOC).ok, redis.call('TYPE', STATE).ok
  if dtype ~= 'none' and dtype ~= 'string' then
    return nil, redis.error_reply('WRONGTYPE the quote document ' .. DOC .. ' holds a ' .. dtype .. ', not a string')
  end
  if stype ~= 'none' and stype ~= 'hash' then
    return nil, redis.error_reply('WRONGTYPE the quote state ' .. STATE .. ' holds a ' .. stype .. ', not a hash')
  end
  return dtype, stype
end

-- isours tells whether doc is the one written here last, as far as the
-- meta tells: its length, header and end, and its SHA1 when one is kept
-- ('' when none is).
local function isours(doc, meta)
  local head = meta.head
  return doc and meta.v == '2' and head and meta.len == #doc and string.sub(doc, 1, #head) == head and
    string.sub(doc, -2) == ']}' and (meta.sha == '' or meta.sha == redis.sha1hex(doc)) or false
end

-- A coin's order and price object as the rebuild gathers them: coin id ->
-- order, coin id -> object.
local order, obj = {}, {}

-- repair takes the unreadable entries of the state (junk: indexes into
-- all, its HGETALL) from the document and the times when both are ours
-- (fromdoc, times; else nil), or drops them, with a note for each.
local function repair(all, junk, fromdoc, times)
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

-- recover takes back the coins of our document doc that are missing from
-- the state (an HDEL by another program; at: coin id -> where its entry
-- starts) with their own times, as when the whole state is deleted; a coin
-- with no time left is dropped. The notes name up to NAMED coins of each,
-- then count them.
local function recover(doc, at, missing, times)
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
end

-- readstate reads the state into order and obj, repairing what it cannot
-- read and recovering the coins of our document it lacks (ours: doc is
-- ours). It returns why the rebuild ran: 'restored' when the state was
-- out of step only by coins deleted from it, which the notes name.
local function readstate(doc, ours, meta, why)
  local all, junk, inhash = redis.call('HGETALL', STATE), {}, {}
  for i = 1, #all, 2 do
    local o, j = parse(all[i], all[i + 1])
    inhash[all[i]] = true
    if o then order[all[i]], obj[all[i]] = o, j else junk[#junk + 1] = i end
  end
  local times
  if #junk > 0 then
    local fromdoc = ours and docentries(doc, #meta.head)
    times = fromdoc and timesmap(meta)
    repair(all, junk, fromdoc, times)
  end
  local at, missing = ours and docindex(doc), {}
  for id in pairs(at or {}) do
    if not inhash[id] then missing[#missing + 1] = id end
  end
  if #missing == 0 then return why end
  recover(doc, at, missing, times or timesmap(meta))
  -- Nothing else out of step (no entry the document lacks, none junk):
  -- the notes say all there is.
  local extra = #junk
  for i = 1, #all, 2 do
    if not at[all[i]] then extra = extra + 1 end
  end
  if why == 'state' and extra == 0 then return 'restored' end
  return why
end

-- nostate reads what stands for a missing state into order and obj: our
-- document and its times, when every coin has one ('restored'), or the
-- coins the client imported from this very document ('takeover'). It
-- returns why, or nil and the reply that asks the client to read the
-- document.
local function nostate(doc, ours, meta)
  local fromdoc = ours and docentries(doc, #meta.head)
  local times = fromdoc and timesmap(meta)
  local nt, nd = 0, 0
  for _ in pairs(times or {}) do nt = nt + 1 end
  for _ in pairs(fromdoc or {}) do nd = nd + 1 end
  if fromdoc and nt == nd and nd == meta.n then
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
    return 'restored'
  end
  if TAKEOVER ~= '' and redis.sha1hex(doc) == TAKEOVER then
    for _, c in ipairs(imports) do order[c.id], obj[c.id] = c.order, c.obj end
    return 'takeover'
  end
  return nil, {'takeover', doc, ours and 1 or 0}
end

-- judgeall takes the batch's prices that win over what order and obj hold.
-- It returns the coins changed, and coin id -> batch index of those taken.
local function judgeall()
  local changed, taken = 0, {}
  for _, c in ipairs(batch) do
    local o = order[c.id]
    c.verdict = judge(c, o, obj[c.id])
    if c.verdict == 'stale' then
      stale[#stale + 1] = tostring(c.idx)
      stale[#stale + 1] = o
    elseif c.verdict == 'new' then
      order[c.id], obj[c.id], taken[c.id] = c.order, c.obj, c.idx
      changed = changed + 1
    end
  end
  return changed, taken
end

-- writestateall writes the state and both indexes from order and obj, into
-- keys emptied first. It returns the coins written.
local function writestateall()
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
  call('HSET', STATE, hset)
  call('ZADD', IDS, iadd)
  call('ZADD', TIMES, tadd)
  return #hset / 2
end

-- ageall drops the coins older than the age-out's start, read from the
-- times index (taken: coin id -> batch index, see judgeall). It returns
-- how many of the batch's prices went with them.
local function ageall(newest, taken)
  local cut = cutoff(newest)
  if not cut then return 0 end
  local hdel, trem, lost = {}, {}, 0
  for _, m in ipairs(redis.call('ZRANGEBYLEX', TIMES, '-', '(' .. cut)) do
    local id = string.sub(m, 22)
    agedout(id, string.sub(m, 1, 20), taken[id] or 0)
    if taken[id] then lost = lost + 1 end
    hdel[#hdel + 1] = id
    trem[#trem + 1] = m
  end
  call('HDEL', STATE, hdel)
  call('ZREM', IDS, hdel)
  call('ZREM', TIMES, trem)
  return lost
end

-- writedocall writes the document in the ids' order and the meta, the
-- document's header for its newest order. It returns the document.
local function writedocall(doc, newest)
  local objs = {}
  for i, id in ipairs(redis.call('ZRANGE', IDS, 0, -1)) do objs[i] = obj[id] end
  local nhead = header(newest)
  local out = nhead .. table.concat(objs, ',') .. ']}'
  if out ~= doc then redis.call('SET', DOC, out) end
  redis.call('HSET', META, 'v', '2', 'ix', '1', 'head', nhead, 'len', #out, 'n', #objs, 'newest', newest,
    'audit', #nhead + 1, 'sha', docsum(out))
  return out
end

-- rebuild merges the batch by rebuilding everything (why: what the splice
-- found out of step, or 'new', 'meta'). It returns the reply.
local function rebuild(why, meta)
  stale, aged, notes, order, obj = {}, {}, {}, {}, {}
  local dtype, stype = keytypes()
  if not dtype then return stype end
  local doc = dtype == 'string' and redis.call('GET', DOC)
  local ours = isours(doc, meta)
  if stype == 'hash' then
    why = readstate(doc, ours, meta, why)
  elseif doc then
    local reply
    why, reply = nostate(doc, ours, meta)
    if not why then return reply end
  elseif why == 'new' then
    why = 'fresh'
  end
  local changed, taken = judgeall()
  if writestateall() == 0 then
    if doc then redis.call('DEL', DOC) end
    return {'ok', changed, stale, aged, notes, why}
  end
  local newest = string.sub(redis.call('ZREVRANGEBYLEX', TIMES, '+', '-', 'LIMIT', 0, 1)[1], 1, 20)
  changed = changed - ageall(newest, taken)
  local out = writedocall(doc, newest)
  expire()
  if out ~= doc and CHANNEL ~= '' then redis.call('PUBLISH', CHANNEL, out) end
  return {'ok', changed, stale, aged, notes, why}
end

-- Reached when the splice did not merge (main.lua).
return rebuild(why, meta)
