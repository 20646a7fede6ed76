local function isorder(s)
  return type(s) == 'string' and #s == 20 and not string.find(s, '%D')
end

-- A plain decimal, as redis-output writes prices: no exponent, no sign but '-'
-- (an older version stored negative prices).
local function plain(s)
  return type(s) == 'string' and string.find(s, '^%-?%d+%.?%d*$') ~= nil and string.byte(s, -1) ~= 46
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
