-- testdata: merge.lua as main had it before it was split into modules
-- (commit 6c224e4), to test taking over what it wrote and to measure
-- against it (redis-bench -quote-script). Not used by redis-output.
--
-- Merges a batch of coin prices into the quote document, atomically, at a
-- cost that grows with what changed rather than with the document.
--
-- Keys, all in the document's Cluster slot:
--   KEYS[1] the document: {"timestamp":T,"quote":"usd","prices":[{"id":..,"price":".."},..]}
--   KEYS[2] the state, a hash: coin id -> "<order> <T> <price object>", where <order>
--           is the price's time in ns, zero-padded to 20 digits (as in the first layout)
--   KEYS[3] the ids, a sorted set of every coin id with score 0: byte order
--   KEYS[4] the times, a sorted set of "<order> <id>" with score 0: time order
--           (times in ns pass 2^53, so they cannot be scores)
--   KEYS[5] the meta, a hash: v (layout, "2"), head (the document's bytes before
--           its first price), len (its length), n (coins), newest (the newest
--           order), audit (where the audit goes on)
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
--     (id, order, price), ids in byte order, prices not negative
--
-- Prices are plain decimals; the script renders every entry itself. A coin's
-- price is replaced only by a newer one, or by a higher one of the same
-- time: a Kafka replay or a slower writer never moves it back in time, and
-- the same prices end in the same document in whatever order they come.
--
-- Redis does not roll back a script that fails after a write, so everything
-- is read and checked first, and nothing after the first write can fail.
--
-- The usual merge (the fast path) checks that the document is the one last
-- written here (its length, header and end; every entry it touches, and a
-- window of entries that goes round the document, compared with the
-- state), and that the counts of the state and the indexes agree. It finds
-- each entry to change with string.find in a small document, or by its rank
-- in the ids and a few GETRANGE windows in a large one, and writes the
-- document from its first changed byte with SETRANGE unless it shrinks: its
-- cost grows with the coins changed and the bytes after them, not with the
-- coins. Anything out of step (no meta, another writer's document, an
-- unreadable entry, an index that disagrees) sends the merge down the full
-- path, which rebuilds the indexes and the document from the state (sorted
-- by the ids' sorted set, in C), repairing or dropping what it cannot read.
--
-- Replies {'ok', changed, stale, aged, notes, why}:
--   changed  coins whose stored entry changed
--   stale    pairs: batch index of a price older than the stored one (or as
--            old and lower), stored order
--   aged     triples: coin aged out, its order, batch index of its price ('0': none)
--   notes    triples: coin, what ('repaired', 'dropped', 'future', 'restored',
--            'recovered', 'lost'), detail; 'recovered' and 'lost' name up to
--            NAMED coins (detail: their order, or ''), then give their count
--            with coin ''
--   why      '' after a splice, else why the full path ran
-- or {'takeover', document, ours}: the state is missing and the document must
-- be read by the client (exact numbers, units, a log line per coin) and sent
-- back as imported coins; nothing was written.

local DOC, STATE, IDS, TIMES, META = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local CHUNK = 1000 -- arguments per command: Lua's unpack stops at 8000
local AGE_LIMIT = 1000 -- coins aged out per fast merge; the rest at the next
-- Entries of the document compared with the state at each fast merge, from
-- a cursor that goes round the document: a change that leaves the sizes
-- alone (an entry of the state or the document overwritten by another
-- program) is found within n / AUDIT merges, or by the first merge that
-- touches that coin.
local AUDIT = 16
local AUDIT_LEAN = 2 -- a small document: its SHA1 covers it; the window covers the state
local NAMED = 10 -- coins named in the notes of one repair; the rest are counted

local function isorder(s)
  return type(s) == 'string' and #s == 20 and not string.find(s, '%D')
end

-- A plain decimal, as redis-output writes prices: no exponent, no sign but '-'
-- (an older version stored negative prices).
local function plain(s)
  return type(s) == 'string' and string.find(s, '^%-?%d+%.?%d*$') ~= nil and string.byte(s, -1) ~= 46
end

-- A price of a batch: a plain decimal without a sign (no price is below zero).
local function unsigned(s)
  return type(s) == 'string' and string.find(s, '^%d+%.?%d*$') ~= nil and string.byte(s, -1) ~= 46
end

-- older(a, b): order a is before order b. Compared as two 10-digit numbers,
-- exact in Lua's doubles and free of the locale string comparison uses;
-- the halves of each order are kept, as the same orders come back.
local HI, LO = {}, {}
local function older(a, b)
  if a == b then return false end
  local ah, bh = HI[a], HI[b]
  if not ah then
    ah = tonumber(string.sub(a, 1, 10))
    HI[a], LO[a] = ah, tonumber(string.sub(a, 11, 20))
  end
  if not bh then
    bh = tonumber(string.sub(b, 1, 10))
    HI[b], LO[b] = bh, tonumber(string.sub(b, 11, 20))
  end
  if ah ~= bh then return ah < bh end
  return LO[a] < LO[b]
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

-- higher(a, b): plain decimal a is above b, by value exactly (not as
-- doubles: a price taken over keeps all its digits), and for equal values
-- ("1.0" and "1", "-0" and "0") by its bytes. A total order, so that of two
-- prices of the same time the same one wins whatever came first.
local function magnitude(s)
  local int, frac = string.match(s, '^(%d*)%.?(%d*)$')
  return (string.gsub(int, '^0+', '')), (string.gsub(frac, '0+$', ''))
end
local function higher(a, b)
  if a == b then return false end
  local na, nb = string.byte(a, 1) == 45, string.byte(b, 1) == 45
  local ai, af = magnitude(na and string.sub(a, 2) or a)
  local bi, bf = magnitude(nb and string.sub(b, 2) or b)
  if ai == '' and af == '' then na = false end -- zero has no sign
  if bi == '' and bf == '' then nb = false end
  local c = 0 -- the magnitudes compared: digits only, so byte order is numeric order
  if #ai ~= #bi then
    c = #ai > #bi and 1 or -1
  elseif ai ~= bi then
    c = before(bi, ai) and 1 or -1
  elseif af ~= bf then
    c = before(bf, af) and 1 or -1
  end
  if na ~= nb then return nb end
  if na then c = -c end
  if c ~= 0 then return c > 0 end
  return before(b, a)
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
  if not string.find(s, '[%z\1-\31"\\]') then return '"' .. s .. '"' end
  return '"' .. string.gsub(s, '[%z\1-\31"\\]', escape) .. '"'
end

local UD = tonumber(ARGV[4])

-- The document's timestamp for an order: the order in the document's unit.
local TIMES_OF = {}
local function doctime(order)
  local t = TIMES_OF[order]
  if t then return t end
  t = string.gsub(string.sub(order, 1, 20 - UD), '^0+', '')
  if t == '' then t = '0' end
  TIMES_OF[order] = t
  return t
end

local function entry(order, obj)
  return order .. ' ' .. doctime(order) .. ' ' .. obj
end

-- prefixof is the start of coin id's price object, up to its price.
local function prefixof(id)
  return '{"id":' .. jsonstr(id) .. ',"price":"'
end

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
  local list, seen, ids, orders = {}, {}, {}, {}
  for i = from, to, 3 do
    ids[#ids + 1], orders[#orders + 1] = ARGV[i], ARGV[i + 1]
  end
  -- Checked all at once where a check can be: orders all digits, ids all
  -- plain ASCII with nothing to escape (else each is checked).
  local allids = table.concat(ids, '')
  local special = string.find(allids, '[%z\1-\31"\\\128-\255]')
  if string.find(table.concat(orders, ''), '%D') then return nil, what .. ' orders' end
  for i = from, to, 3 do
    local id, order, price = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    if #id == 0 or (special and not validid(id)) or seen[id] or #order ~= 20 or not unsigned(price) then
      return nil, what .. ' coin ' .. ((i - from) / 3 + 1)
    end
    seen[id] = true
    local prefix
    if special then prefix = prefixof(id) else prefix = '{"id":"' .. id .. '","price":"' end
    list[#list + 1] = {id = id, order = order, prefix = prefix, price = price, obj = prefix .. price .. '"}',
      idx = (i - from) / 3 + 1}
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

-- lean merges into a document of the lean layout. It returns the reply,
-- or nil and the reason the full path must run instead, having written
-- nothing.
local function lean()
  local head, len, n, newest = meta[2], tonumber(meta[3]), tonumber(meta[4]), meta[5]
  if type(head) ~= 'string' or not len or not n or n < 1 or not isorder(newest) then return nil, 'meta' end
  local doc = try('GET', DOC)
  if not doc then return nil, 'types' end
  if #doc ~= len or redis.sha1hex(doc) ~= meta[7] then return nil, 'document' end
  local hl = try('HLEN', STATE)
  if not hl then return nil, 'types' end
  if hl ~= n then return nil, 'state' end
  local start, last = #head + 1, len - 2

  -- The audit's window, read from the document, and the batch's stored
  -- entries, in one HMGET.
  local audit = tonumber(meta[6])
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
  local oldest = meta[9] -- no later than the oldest time
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
  if not ordered(edits) then return bad('batch ids out of byte order') end
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

-- indexed merges into a document of the indexed layout: it checks the
-- document by its length, header and end, every entry it touches and the
-- audit's window; finds entries by rank; and writes from the first byte
-- that changes. It returns the reply, or nil and the reason the full path
-- must run instead, having written nothing.
local function indexed()
  local head, len, n, newest = meta[2], tonumber(meta[3]), tonumber(meta[4]), meta[5]
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
  local audit = tonumber(meta[6])
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
  if not ordered(edits) then return bad('batch ids out of byte order') end
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

-- timesmap reads each coin's time, from the times index or, in the lean
-- layout, from the meta's t:<id> fields: coin id -> order.
local function timesmap()
  local map = {}
  if meta[8] == '0' then
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

local function head100(s)
  if type(s) ~= 'string' then return tostring(s) end
  return string.sub(s, 1, 100)
end

-- full rebuilds the indexes and the document from the state (or, when the
-- state is missing, from a document of ours and its times index, or from
-- the coins the client imported from the document). Its cost grows with
-- all the coins, so the sorting, the newest time and the aging are left to
-- the sorted sets, in C.
local function full(why)
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
  local head = meta[2]
  local ours = doc and meta[1] == '2' and type(head) == 'string' and tonumber(meta[3]) == #doc and
    string.sub(doc, 1, #head) == head and string.sub(doc, -2) == ']}' and
    (meta[7] == '' or meta[7] == redis.sha1hex(doc))
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
      times = fromdoc and timesmap()
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
      times = times or timesmap()
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
    local times = fromdoc and timesmap()
    local nt, nd = 0, 0
    if times then
      for _ in pairs(times) do nt = nt + 1 end
      for _ in pairs(fromdoc) do nd = nd + 1 end
    end
    if fromdoc and nt == nd and nd == tonumber(meta[4]) then
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

local reply, why
if meta[1] ~= '2' then
  -- No meta: a first write, or the first with this layout (an upgrade).
  -- A meta of another type or with another v is garbage: repaired. (TYPE,
  -- not EXISTS: the least ACL of quote mode has it already.)
  why = 'new'
  if redis.call('TYPE', META).ok ~= 'none' then why = 'meta' end
elseif meta[8] == '0' then
  reply, why = lean()
elseif meta[8] == '1' then
  reply, why = indexed()
else
  why = 'meta'
end
if reply then return reply end
return full(why)
