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
