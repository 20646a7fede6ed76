-- A document of up to WHOLE bytes (about 700 coins) is read whole, in one
-- GETRANGE, and written whole; the meta keeps its SHA1, which vouches for
-- every byte of it at the next merge. A larger one is never read whole: it
-- is checked by its length, header and end, read in windows (GETRANGE)
-- where entries are looked at, and written from its first changed byte.
local WHOLE = 32768

-- opendoc checks the document against the meta. It returns a reader {head,
-- len, start, last (the first and the last byte of its entries), first
-- (its bytes from the start: all of a small document, the header of a
-- large one), vouched (a small document whose SHA1 is the meta's)}, or nil
-- and why the rebuild must run.
local function opendoc(meta)
  local head, len = meta.head, meta.len
  local first, tail, vouched
  if len <= WHOLE then
    first = try('GETRANGE', DOC, 0, WHOLE) -- a byte more: a longer document shows
    if not first or #first ~= len then return nil, 'document' end
    tail, vouched = string.sub(first, -2), meta.sha == redis.sha1hex(first)
  else
    if try('STRLEN', DOC) ~= len then return nil, 'document' end
    first, tail = redis.call('GETRANGE', DOC, 0, #head - 1), redis.call('GETRANGE', DOC, -2, -1)
  end
  if string.sub(first, 1, #head) ~= head or tail ~= ']}' then return nil, 'document' end
  return {head = head, len = len, start = #head + 1, last = len - 2, first = first, vouched = vouched}
end

-- docsum is what the meta keeps of a document written: its SHA1 when it is
-- small, else ''.
local function docsum(doc)
  if #doc <= WHOLE then return redis.sha1hex(doc) end
  return ''
end

-- bytes reads bytes from..to (1-based, inclusive) of the document d, from
-- its first window when they are in it.
local function bytes(d, from, to)
  if to < from then return '' end
  if to <= #d.first then return string.sub(d.first, from, to) end
  return redis.call('GETRANGE', DOC, from - 1, to - 1)
end

-- entryat finds the first entry of d starting at byte m or later: its
-- start, id, object and the start of the next one; nil when there is none.
local function entryat(d, m)
  local w = 512
  while true do
    local to = math.min(m + w - 1, d.last)
    local s = bytes(d, m, to)
    local i = string.find(s, '{"id":"', 1, true)
    if i then
      local id, obj, nxt = docentry(s, i)
      if id then return m + i - 1, id, obj, m + nxt - 1 end
    end
    if to >= d.last then return nil end
    w = w * 4
  end
end

-- previd is the id of the entry of d that ends just before byte p (the
-- start of an entry, or the end of the entries): nil when p is the first
-- entry's start, false when no entry of ours ends there.
local function previd(d, p)
  if p <= d.start then return nil end
  local w = 512
  while true do
    local from = math.max(d.start, p - w)
    local s = bytes(d, from, p - 2)
    local i = string.match(s, '.*(){"id":"')
    if i then
      local id, _, nxt = docentry(s, i)
      if id and from + nxt - 1 == p then return id end
    end
    if from == d.start then return false end
    w = w * 4
  end
end

-- locate finds the entry of rank r (0-based) among the n of d by
-- interpolation between entries of known rank: a handful of windows and
-- ZRANKs. It returns its start, id and object, or nil.
local function locate(d, r, n)
  local lo, rlo, hi, rhi = d.start, 0, d.last + 2, n
  for _ = 1, 100 do
    local m = lo
    if r > rlo then
      m = lo + math.floor((hi - lo) * (r - rlo) / (rhi - rlo))
      if m <= lo then m = lo + 1 end
    end
    local p, id, obj, nxt = entryat(d, m)
    if not p or p >= hi then
      if m <= lo + 1 then return nil end
      hi = m
    else
      local rp = redis.call('ZRANK', IDS, id)
      if not rp then return nil end
      if rp == r then return p, id, obj end
      if rp < r then
        lo, rlo = nxt, rp + 1
        if lo > d.last + 1 then return nil end
      else
        hi, rhi = p, rp
      end
    end
  end
  return nil
end

-- find returns where the entry of coin id, with the stored object obj,
-- starts in d (of n coins), or nil and why the rebuild must run: by its
-- rank in the ids, which must agree with the document; or, when bytext
-- and the document is small and vouched for by its SHA1, by its text (an
-- object of ours is found nowhere else, as '{"id":"' cannot occur inside
-- an id, whose quotes are escaped).
local function find(d, id, obj, n, bytext)
  if bytext and d.vouched then
    local p = string.find(d.first, obj, d.start, true)
    if not p then return nil, 'document' end
    return p
  end
  local rank = redis.call('ZRANK', IDS, id)
  if not rank then return nil, 'index' end
  local p, pid, pobj = locate(d, rank, n)
  if not p or pid ~= id or pobj ~= obj then return nil, 'document' end
  return p
end

-- plan lays out the new document: items between commas, each a run of the
-- old document ({a, b}: bytes a..b) or a new entry ({text}); its size with
-- a header of hlen bytes; and where the audit goes on (the first byte that
-- stands for old bytes at or after audit).
local function plan(d, edits, hlen, audit)
  local items, run = {}, d.start
  for _, e in ipairs(edits) do
    if e.p - 2 >= run then items[#items + 1] = {a = run, b = e.p - 2} end
    if e.text then items[#items + 1] = {text = e.text, a = e.p, b = e.p} end
    if e.kind == 0 then run = e.p else run = e.p + #e.aobj + 1 end
  end
  if run <= d.last then items[#items + 1] = {a = run, b = d.last} end
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

-- inplace writes the edits into d where it stands (it does not shrink, and
-- its header keeps its length): the same-length replacements before any
-- byte moves, each alone; from the first edit that moves bytes, the rest of
-- the document.
local function inplace(d, edits)
  local j = 1
  while j <= #edits and edits[j].kind == 1 and edits[j].text and #edits[j].text == #edits[j].aobj do
    redis.call('SETRANGE', DOC, edits[j].p - 1, edits[j].text)
    j = j + 1
  end
  if j > #edits then return end
  local from = edits[j].p
  local parts, count, run = {}, 0, from
  if from > d.start then from, count = from - 1, 1 end -- from its comma
  local function put(s)
    if count > 0 then parts[#parts + 1] = ',' end
    parts[#parts + 1] = s
    count = count + 1
  end
  for i = j, #edits do
    local e = edits[i]
    if e.p - 2 >= run then put(bytes(d, run, e.p - 2)) end
    if e.text then put(e.text) end
    if e.kind == 0 then run = e.p else run = e.p + #e.aobj + 1 end
  end
  if run <= d.last then put(bytes(d, run, d.last)) end
  parts[#parts + 1] = ']}'
  redis.call('SETRANGE', DOC, from - 1, table.concat(parts))
end

-- writedoc writes the new document (items, size, its header nhead): in
-- place when it is large, does not shrink and its header keeps its length;
-- else whole (Redis strings cannot be cut short). It returns the document
-- when it wrote it whole.
local function writedoc(d, edits, items, nhead, size)
  if size > WHOLE and #nhead == #d.head and size >= d.len then
    inplace(d, edits)
    if nhead ~= d.head then redis.call('SETRANGE', DOC, 0, nhead) end
    return nil
  end
  local parts = {nhead}
  for i, it in ipairs(items) do
    if i > 1 then parts[#parts + 1] = ',' end
    parts[#parts + 1] = it.text or bytes(d, it.a, it.b)
  end
  parts[#parts + 1] = ']}'
  local out = table.concat(parts)
  redis.call('SET', DOC, out)
  return out
end
