-- Merges a batch of coin prices into the quote document, atomically, at a
-- cost that grows with what changed rather than with the document.
--
-- Keys, all in the document's Cluster slot:
--   KEYS[1] the document: {"timestamp":T,"quote":"usd","prices":[{"id":..,"price":".."},..]}
--   KEYS[2] the state, a hash: coin id -> "<order> <T> <price object>", where <order>
--           is the price's time in ns, zero-padded to 20 digits (the v1 layout)
--   KEYS[3] the ids, a sorted set of every coin id with score 0: byte order
--   KEYS[4] the times, a sorted set of "<order> <id>" with score 0: time order
--   KEYS[5] the meta, a hash: v (layout, "2"), sha and len of the document as last
--           written here, h (bytes before its first price), n (coins)
-- ARGV:
--   1 the quote currency as a JSON string ("usd" with its quotes)
--   2 milliseconds to expire every key after, 0 for never
--   3 channel to PUBLISH the new document on, '' for none
--   4 digits of the document's timestamp unit in ns (9 for seconds)
--   5 the writer's clock, an order
--   6 the future limit, an order, or '': a stored time beyond it does not hold
--     back a newer price (it could only have come from a clock gone wrong)
--   7 age out, 20 digits of ns, or '': a coin whose time is older than this
--     before the newest price (or the clock, if earlier) is dropped
--   8 takeover: '' or the SHA1 of the document the imported coins were read from
--   9 m, the number of imported coins
--   10.. m triples (id, order, price) imported, then the batch: triples
--     (id, order, price), ids in byte order
--
-- Prices are plain decimals; the script renders every entry itself. A coin's
-- price is replaced only by one at least as new, so a Kafka replay or a
-- slower writer never moves it back in time.
--
-- Redis does not roll back a script that fails after a write, so everything
-- is read and checked first, and nothing after the first write can fail.
--
-- The usual merge (the fast path) reads the document once, checks it is
-- byte for byte what was last written here (length and SHA1 in the meta),
-- finds each changed entry with string.find (in C; the entries are visited
-- in document order, taken from ZRANK in the ids), and splices: its cost is
-- a few copies of the document plus O(log n) per changed coin. Anything
-- out of step (no meta, another writer's document, an unreadable entry, an
-- index that disagrees with the state) sends the merge down the full path,
-- which rebuilds the indexes and the document from the state (sorted by a
-- sorted set, in C), repairing or dropping what it cannot read.
--
-- Replies {'ok', changed, stale, aged, notes, why}:
--   changed  coins whose stored entry changed
--   stale    pairs: batch index of a price older than the stored one, stored order
--   aged     triples: coin aged out, its order, batch index of its price (0: none)
--   notes    triples: coin, what ('repaired', 'dropped', 'future', 'restored'), detail
--   why      '' after a splice, else why the full path ran
-- or {'takeover', document, ours}: the state is missing and the document must
-- be read by the client (exact numbers, units, a log line per coin) and sent
-- back as imported coins; nothing was written.

local DOC, STATE, IDS, TIMES, META = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local CHUNK = 1000 -- arguments per command: Lua's unpack stops at 8000
local AGE_LIMIT = 1000 -- coins aged out per fast merge; the rest at the next

local function isorder(s)
  return type(s) == 'string' and #s == 20 and not string.find(s, '%D')
end

-- A plain decimal, as redis-output writes prices: no exponent, no sign but '-'.
local function plain(s)
  return type(s) == 'string' and (string.find(s, '^%-?%d+$') ~= nil or string.find(s, '^%-?%d+%.%d+$') ~= nil)
end

-- older(a, b): order a is before order b. Compared as two 10-digit numbers,
-- exact in Lua's doubles and free of the locale string comparison uses.
local function older(a, b)
  local ah, bh = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if ah ~= bh then return ah < bh end
  return tonumber(string.sub(a, 11, 20)) < tonumber(string.sub(b, 11, 20))
end

-- before(a, b): a sorts before b in byte order, as Go and sorted sets sort.
local function before(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function pad10(x)
  local s = string.format('%.0f', x)
  return string.rep('0', 10 - #s) .. s
end

-- minus(a, b) is the order a - b, nil when negative.
local function minus(a, b)
  local h = tonumber(string.sub(a, 1, 10)) - tonumber(string.sub(b, 1, 10))
  local l = tonumber(string.sub(a, 11, 20)) - tonumber(string.sub(b, 11, 20))
  if l < 0 then l, h = l + 1e10, h - 1 end
  if h < 0 then return nil end
  return pad10(h) .. pad10(l)
end

local function utf8ok(s)
  if not string.find(s, '[\128-\255]') then return true end
  local i, n = 1, #s
  while i <= n do
    local c = string.byte(s, i)
    if c < 0x80 then
      i = i + 1
    elseif c >= 0xC2 and c <= 0xDF then
      local c2 = string.byte(s, i + 1)
      if not c2 or c2 < 0x80 or c2 > 0xBF then return false end
      i = i + 2
    elseif c >= 0xE0 and c <= 0xEF then
      local c2, c3 = string.byte(s, i + 1, i + 2)
      if not c3 or c2 < 0x80 or c2 > 0xBF or c3 < 0x80 or c3 > 0xBF then return false end
      if (c == 0xE0 and c2 < 0xA0) or (c == 0xED and c2 > 0x9F) then return false end
      i = i + 3
    elseif c >= 0xF0 and c <= 0xF4 then
      local c2, c3, c4 = string.byte(s, i + 1, i + 3)
      if not c4 or c2 < 0x80 or c2 > 0xBF or c3 < 0x80 or c3 > 0xBF or c4 < 0x80 or c4 > 0xBF then return false end
      if (c == 0xF0 and c2 < 0x90) or (c == 0xF4 and c2 > 0x8F) then return false end
      i = i + 4
    else
      return false
    end
  end
  return true
end

local function validid(id)
  return type(id) == 'string' and #id > 0 and utf8ok(id)
end

-- jsonstr escapes as redis-output's Go code does: quotes, backslashes and
-- control characters only (cjson.encode would also escape '/').
local ESC = {['"'] = '\\"', ['\\'] = '\\\\'}
local function escape(c) return ESC[c] or string.format('\\u%04x', string.byte(c)) end
local function jsonstr(s)
  return '"' .. string.gsub(s, '[%z\1-\31"\\]', escape) .. '"'
end

local function object(id, price)
  return '{"id":' .. jsonstr(id) .. ',"price":"' .. price .. '"}'
end

local UD = tonumber(ARGV[4])

-- The document's timestamp for an order: the order in the document's unit.
local function doctime(order)
  local t = string.gsub(string.sub(order, 1, 20 - UD), '^0+', '')
  if t == '' then t = '0' end
  return t
end

local function entry(order, obj)
  return order .. ' ' .. doctime(order) .. ' ' .. obj
end

-- parse reads coin id's stored entry: its order and price object, or nil
-- when it is not an entry this script would have written for that coin.
local function parse(id, e)
  if type(e) ~= 'string' or not validid(id) then return nil end
  local order, obj = string.match(e, '^(%d+) %d+ ({.*})$')
  if not order or #order ~= 20 then return nil end
  local prefix = '{"id":' .. jsonstr(id) .. ',"price":"'
  if #obj < #prefix + 3 or string.sub(obj, 1, #prefix) ~= prefix or string.sub(obj, -2) ~= '"}' then return nil end
  if not plain(string.sub(obj, #prefix + 1, -3)) then return nil end
  return order, obj
end

-- call runs cmd key args... in chunks and returns the replies joined.
local function call(cmd, key, list, prefix)
  local out = {}
  for i = 1, #list, CHUNK do
    local r
    if prefix then
      r = redis.call(cmd, key, prefix, unpack(list, i, math.min(i + CHUNK - 1, #list)))
    else
      r = redis.call(cmd, key, unpack(list, i, math.min(i + CHUNK - 1, #list)))
    end
    if type(r) == 'table' then
      for _, v in ipairs(r) do out[#out + 1] = v end
    end
  end
  return out
end

-- Arguments, all checked before anything is read or written.
local function bad(what)
  return redis.error_reply('ERR quote merge: bad argument: ' .. what)
end
local QUOTE, TTL, CHANNEL = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local NOW, FUTURE, AGE, TAKEOVER, M = ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9])
if type(QUOTE) ~= 'string' or #QUOTE < 3 or not string.find(QUOTE, '^".*"$') then return bad('quote') end
if not TTL or TTL < 0 or TTL ~= math.floor(TTL) then return bad('expire') end
if type(CHANNEL) ~= 'string' then return bad('channel') end
if not UD or UD < 0 or UD > 9 or UD ~= math.floor(UD) then return bad('unit') end
if not isorder(NOW) then return bad('clock') end
if FUTURE ~= '' and not isorder(FUTURE) then return bad('future limit') end
if AGE ~= '' and not isorder(AGE) then return bad('age out') end
if TAKEOVER ~= '' and not string.find(TAKEOVER, '^%x+$') then return bad('takeover') end
if not M or M < 0 or M ~= math.floor(M) or 9 + 3 * M > #ARGV or (#ARGV - 9) % 3 ~= 0 then return bad('counts') end

local function triples(from, to, what)
  local list, seen = {}, {}
  for i = from, to, 3 do
    local id, order, price = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    if not validid(id) or seen[id] or not isorder(order) or not plain(price) then
      return nil, what .. ' coin ' .. ((i - from) / 3 + 1)
    end
    seen[id] = true
    list[#list + 1] = {id = id, order = order, obj = object(id, price), idx = (i - from) / 3 + 1}
  end
  return list
end
local imports, err = triples(10, 9 + 3 * M, 'imported')
if not imports then return bad(err) end
local batch
batch, err = triples(10 + 3 * M, #ARGV, 'batch')
if not batch then return bad(err) end
local byid = {}
for _, c in ipairs(batch) do byid[c.id] = c end

-- The document and the state must be what quote mode keeps there: that is
-- for an operator to fix. The indexes and the meta are ours alone: the
-- full path rebuilds them whatever they hold.
local types = {}
for _, k in ipairs({DOC, STATE, IDS, TIMES, META}) do types[k] = redis.call('TYPE', k).ok end
if types[DOC] ~= 'none' and types[DOC] ~= 'string' then
  return redis.error_reply('WRONGTYPE the quote document ' .. DOC .. ' holds a ' .. types[DOC] .. ', not a string')
end
if types[STATE] ~= 'none' and types[STATE] ~= 'hash' then
  return redis.error_reply('WRONGTYPE the quote state ' .. STATE .. ' holds a ' .. types[STATE] .. ', not a hash')
end
local indexed = types[IDS] ~= 'none' and types[IDS] == 'zset' and types[TIMES] == 'zset' and types[META] == 'hash'
local meta = {}
if types[META] == 'hash' then meta = redis.call('HMGET', META, 'v', 'sha', 'len', 'h', 'n') end

local stale, aged, notes = {}, {}, {}
local function note(id, what, detail)
  notes[#notes + 1] = id
  notes[#notes + 1] = what
  notes[#notes + 1] = detail
end

-- judge compares a batch price with the stored one: 'stale', 'same'
-- (nothing to write) or 'new'.
local function judge(c, oorder, oobj)
  if not oorder then return 'new' end
  if older(c.order, oorder) then
    if FUTURE ~= '' and older(FUTURE, oorder) then
      note(c.id, 'future', oorder)
      return 'new'
    end
    return 'stale'
  end
  if c.order == oorder and c.obj == oobj then return 'same' end
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

local function expire(keys)
  if TTL > 0 then
    for _, k in ipairs(keys) do redis.call('PEXPIRE', k, TTL) end
  end
end

local function header(newest)
  return '{"timestamp":' .. doctime(newest) .. ',"quote":' .. QUOTE .. ',"prices":['
end

-- fast splices the batch into the document. It returns the reply, or nil
-- and the reason the full path must run instead, having written nothing.
local function fast()
  if not indexed or meta[1] ~= '2' then return nil, 'new' end
  local sha, len, h, n = meta[2], tonumber(meta[3]), tonumber(meta[4]), tonumber(meta[5])
  if not sha or not len or not h or not n or n < 1 or h < 1 then return nil, 'meta' end
  if types[DOC] ~= 'string' or redis.call('STRLEN', DOC) ~= len then return nil, 'document' end
  if redis.call('HLEN', STATE) ~= n or redis.call('ZCARD', IDS) ~= n or redis.call('ZCARD', TIMES) ~= n then
    return nil, 'state'
  end
  local doc = redis.call('GET', DOC)
  if redis.sha1hex(doc) ~= sha then return nil, 'document' end
  local start, last = h + 1, #doc - 2

  -- The stored entries of the batch's coins, checked against the indexes.
  local ids = {}
  for i, c in ipairs(batch) do ids[i] = c.id end
  local olds = call('HMGET', STATE, ids)
  local accepted, replaced, nrem = {}, {}, 0
  for i, c in ipairs(batch) do
    if olds[i] then
      c.oorder, c.oobj = parse(c.id, olds[i])
      if not c.oorder then return nil, 'entry' end
      if not redis.call('ZSCORE', IDS, c.id) or not redis.call('ZSCORE', TIMES, c.oorder .. ' ' .. c.id) then
        return nil, 'index'
      end
    elseif redis.call('ZSCORE', IDS, c.id) then
      return nil, 'index'
    end
    c.verdict = judge(c, c.oorder, c.oobj)
    if c.verdict == 'stale' then
      stale[#stale + 1] = tostring(c.idx)
      stale[#stale + 1] = c.oorder
    elseif c.verdict == 'new' then
      accepted[#accepted + 1] = c
      if c.oorder and c.oorder ~= c.order then
        replaced[c.oorder .. ' ' .. c.id] = true
        nrem = nrem + 1
      end
    end
  end

  -- The newest time after the merge: the newest in the index that stays,
  -- or a new one.
  local newest
  for _, m in ipairs(redis.call('ZREVRANGEBYLEX', TIMES, '+', '-', 'LIMIT', 0, nrem + 1)) do
    if not replaced[m] then
      newest = string.sub(m, 1, 20)
      if not isorder(newest) then return nil, 'index' end
      break
    end
  end
  for _, c in ipairs(accepted) do
    if not newest or older(newest, c.order) then newest = c.order end
  end

  -- Aging out: the batch's coins by their new (or kept) time, the others
  -- from the index, oldest first.
  local gone = {} -- coins to delete: {id, order, obj}
  local cut = cutoff(newest)
  if cut then
    for _, c in ipairs(batch) do
      if c.verdict == 'new' and older(c.order, cut) then
        c.aged = true
        aged[#aged + 1] = c.id
        aged[#aged + 1] = c.order
        aged[#aged + 1] = tostring(c.idx)
        if c.oorder then gone[#gone + 1] = {c.id, c.oorder, c.oobj} end
      elseif c.verdict ~= 'new' and c.oorder and older(c.oorder, cut) then
        c.aged = true
        aged[#aged + 1] = c.id
        aged[#aged + 1] = c.oorder
        aged[#aged + 1] = '0'
        gone[#gone + 1] = {c.id, c.oorder, c.oobj}
      end
    end
    local members = redis.call('ZRANGEBYLEX', TIMES, '-', '(' .. cut, 'LIMIT', 0, AGE_LIMIT)
    local others, orders = {}, {}
    for _, m in ipairs(members) do
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
      aged[#aged + 1] = id
      aged[#aged + 1] = order
      aged[#aged + 1] = '0'
      gone[#gone + 1] = {id, order, obj}
    end
  end

  -- The edits, each anchored at an entry of the document as it is: a
  -- replaced or deleted entry at itself, a new coin before the next coin
  -- in byte order (or at the end).
  local edits = {}
  for _, c in ipairs(accepted) do
    if not c.aged then
      if not c.oobj then
        local nxt = redis.call('ZRANGEBYLEX', IDS, '(' .. c.id, '+', 'LIMIT', 0, 1)[1]
        local e = {kind = 0, text = c.obj, id = c.id, idx = c.idx}
        if nxt then
          local b = byid[nxt]
          if b then
            e.anchor, e.aobj = nxt, b.oobj
          else
            local order
            order, e.aobj = parse(nxt, redis.call('HGET', STATE, nxt))
            if not order then return nil, 'entry' end
            e.anchor = nxt
          end
          if not e.aobj then return nil, 'index' end
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
  for _, e in ipairs(edits) do
    if e.anchor then
      e.rank = redis.call('ZRANK', IDS, e.anchor)
      if not e.rank then return nil, 'index' end
    else
      e.rank = n
    end
  end
  table.sort(edits, function(a, b)
    if a.rank ~= b.rank then return a.rank < b.rank end
    if a.kind ~= b.kind then return a.kind < b.kind end
    return a.idx < b.idx
  end)
  -- New coins before the same anchor go in batch order, which must be
  -- byte order.
  for i = 2, #edits do
    local a, b = edits[i - 1], edits[i]
    if a.kind == 0 and b.kind == 0 and a.rank == b.rank and not before(a.id, b.id) then
      return bad('batch ids out of byte order')
    end
  end

  -- Where each anchor is, found in document order.
  local cursor, at = start, {}
  for _, e in ipairs(edits) do
    if e.anchor then
      local p = at[e.anchor]
      if not p then
        p = string.find(doc, e.aobj, cursor, true)
        if not p then return nil, 'document' end
        local q = p + #e.aobj
        if (p ~= start and string.sub(doc, p - 1, p - 1) ~= ',') or (q ~= last + 1 and string.sub(doc, q, q) ~= ',') then
          return nil, 'document'
        end
        at[e.anchor], cursor = p, p
      end
      e.p = p
    else
      e.p = last + 2
    end
  end

  -- Everything is read and checked: the writes.
  local hset, hdel, tadd, trem, iadd, irem = {}, {}, {}, {}, {}, {}
  local changed = 0
  for _, c in ipairs(accepted) do
    if not c.aged then
      changed = changed + 1
      hset[#hset + 1] = c.id
      hset[#hset + 1] = entry(c.order, c.obj)
      if c.oorder ~= c.order then
        if c.oorder then trem[#trem + 1] = c.oorder .. ' ' .. c.id end
        tadd[#tadd + 1] = 0
        tadd[#tadd + 1] = c.order .. ' ' .. c.id
      end
      if not c.oorder then
        iadd[#iadd + 1] = 0
        iadd[#iadd + 1] = c.id
        n = n + 1
      end
    end
  end
  for _, g in ipairs(gone) do
    changed = changed + 1
    hdel[#hdel + 1] = g[1]
    trem[#trem + 1] = g[2] .. ' ' .. g[1]
    irem[#irem + 1] = g[1]
    n = n - 1
  end
  call('HSET', STATE, hset)
  call('HDEL', STATE, hdel)
  call('ZREM', TIMES, trem)
  call('ZADD', TIMES, tadd)
  call('ZREM', IDS, irem)
  call('ZADD', IDS, iadd)

  local keys = {DOC, STATE, IDS, TIMES, META}
  if n == 0 then
    -- Every coin aged out: no document rather than an empty one.
    redis.call('DEL', DOC, STATE, IDS, TIMES, META)
    return {'ok', changed, stale, aged, notes, ''}
  end

  local head = header(newest)
  local parts, first = {head}, true
  local function add(s)
    if first then first = false else parts[#parts + 1] = ',' end
    parts[#parts + 1] = s
  end
  local run = start
  for _, e in ipairs(edits) do
    if e.p - 2 >= run then add(string.sub(doc, run, e.p - 2)) end
    if e.text then add(e.text) end
    if e.kind == 0 then run = e.p else run = e.p + #e.aobj + 1 end
  end
  if run <= last then add(string.sub(doc, run, last)) end
  parts[#parts + 1] = ']}'
  local out = table.concat(parts)
  if out ~= doc then
    redis.call('SET', DOC, out)
    redis.call('HSET', META, 'sha', redis.sha1hex(out), 'len', #out, 'h', #head, 'n', n)
  elseif changed > 0 then
    redis.call('HSET', META, 'n', n)
  end
  expire(keys)
  if out ~= doc and CHANNEL ~= '' then redis.call('PUBLISH', CHANNEL, out) end
  return {'ok', changed, stale, aged, notes, ''}
end

-- docentries reads a document this script wrote: coin id -> price object.
local function docentries(doc, h)
  local map = {}
  local p, last = h + 1, #doc - 2
  while p <= last do
    if string.sub(doc, p, p + 6) ~= '{"id":"' then return nil end
    local q = string.find(doc, '","price":"', p + 6, true)
    if not q then return nil end
    local e = string.find(doc, '"}', q + 11, true)
    if not e then return nil end
    local id = string.sub(doc, p + 7, q - 1)
    if string.find(id, '\\', 1, true) then
      local ok, s = pcall(cjson.decode, string.sub(doc, p + 6, q))
      if not ok or type(s) ~= 'string' then return nil end
      id = s
    end
    map[id] = string.sub(doc, p, e + 1)
    p = e + 3
  end
  return map
end

-- timesmap reads the times index: coin id -> order.
local function timesmap()
  local map = {}
  if types[TIMES] ~= 'zset' then return map end
  for _, m in ipairs(redis.call('ZRANGE', TIMES, 0, -1)) do
    local order = string.sub(m, 1, 20)
    if isorder(order) and string.sub(m, 21, 21) == ' ' then map[string.sub(m, 22)] = order end
  end
  return map
end

local function head100(s)
  if type(s) ~= 'string' then return tostring(s) end
  return string.sub(s, 1, 100)
end

-- full rebuilds the indexes and the document from the state (or, when the
-- state is missing, from a document of ours and its times index, or from
-- the coins the client imported from the document).
local function full(why)
  stale, aged, notes = {}, {}, {}
  local doc = false
  if types[DOC] == 'string' then doc = redis.call('GET', DOC) end
  local h = tonumber(meta[4])
  local ours = doc and meta[1] == '2' and h and meta[2] == redis.sha1hex(doc)
  local coins = {} -- id -> {order, obj}
  if types[STATE] == 'hash' then
    local all = redis.call('HGETALL', STATE)
    local junk = {}
    for i = 1, #all, 2 do
      local order, obj = parse(all[i], all[i + 1])
      if order then coins[all[i]] = {order, obj} else junk[#junk + 1] = i end
    end
    if #junk > 0 then
      -- An unreadable entry is repaired from the document and the times
      -- index when both are ours, else dropped.
      local fromdoc = ours and docentries(doc, h)
      local times = fromdoc and timesmap()
      for _, i in ipairs(junk) do
        local id = all[i]
        local obj, order = fromdoc and fromdoc[id], times and times[id]
        if obj and order and validid(id) then
          coins[id] = {order, obj}
          note(id, 'repaired', head100(all[i + 1]))
        else
          note(id, 'dropped', head100(all[i + 1]))
        end
      end
    end
  elseif doc then
    local fromdoc = ours and docentries(doc, h)
    local times = fromdoc and timesmap()
    local nt = 0
    if times then for _ in pairs(times) do nt = nt + 1 end end
    if fromdoc and nt == tonumber(meta[5]) then
      -- Our document, its state deleted: each coin's own time is in the index.
      local restored = 0
      for id, obj in pairs(fromdoc) do
        if times[id] then
          coins[id] = {times[id], obj}
          restored = restored + 1
        else
          note(id, 'dropped', 'no time in the index')
        end
      end
      note('', 'restored', tostring(restored))
      why = 'restored'
    elseif TAKEOVER ~= '' and redis.sha1hex(doc) == TAKEOVER then
      for _, c in ipairs(imports) do coins[c.id] = {c.order, c.obj} end
      why = 'takeover'
    else
      return {'takeover', doc, ours and 1 or 0}
    end
  elseif why == 'new' then
    why = 'fresh'
  end

  local changed = 0
  for _, c in ipairs(batch) do
    local o = coins[c.id]
    c.verdict = judge(c, o and o[1], o and o[2])
    if c.verdict == 'stale' then
      stale[#stale + 1] = tostring(c.idx)
      stale[#stale + 1] = o[1]
    elseif c.verdict == 'new' then
      coins[c.id] = {c.order, c.obj, c.idx}
      changed = changed + 1
    end
  end

  local newest
  for _, o in pairs(coins) do
    if not newest or older(newest, o[1]) then newest = o[1] end
  end
  local cut = cutoff(newest)
  if cut then
    for id, o in pairs(coins) do
      if older(o[1], cut) then
        aged[#aged + 1] = id
        aged[#aged + 1] = o[1]
        aged[#aged + 1] = tostring(o[3] or 0)
        coins[id] = nil
        if o[3] then changed = changed - 1 end
      end
    end
  end

  -- Writes: the state, the indexes, then the document in the ids' order.
  redis.call('DEL', STATE, IDS, TIMES, META)
  local hset, iadd, tadd = {}, {}, {}
  for id, o in pairs(coins) do
    hset[#hset + 1] = id
    hset[#hset + 1] = entry(o[1], o[2])
    iadd[#iadd + 1] = 0
    iadd[#iadd + 1] = id
    tadd[#tadd + 1] = 0
    tadd[#tadd + 1] = o[1] .. ' ' .. id
  end
  if #hset == 0 then
    if doc then redis.call('DEL', DOC) end
    return {'ok', changed, stale, aged, notes, why}
  end
  call('HSET', STATE, hset)
  call('ZADD', IDS, iadd)
  call('ZADD', TIMES, tadd)
  local objs = {}
  for i, id in ipairs(redis.call('ZRANGE', IDS, 0, -1)) do objs[i] = coins[id][2] end
  local head = header(newest)
  local out = head .. table.concat(objs, ',') .. ']}'
  if out ~= doc then redis.call('SET', DOC, out) end
  redis.call('HSET', META, 'v', '2', 'sha', redis.sha1hex(out), 'len', #out, 'h', #head, 'n', #objs)
  expire({DOC, STATE, IDS, TIMES, META})
  if out ~= doc and CHANNEL ~= '' then redis.call('PUBLISH', CHANNEL, out) end
  return {'ok', changed, stale, aged, notes, why}
end

local reply, why = fast()
if reply then return reply end
return full(why)
