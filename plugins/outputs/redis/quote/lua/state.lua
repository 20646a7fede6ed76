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

