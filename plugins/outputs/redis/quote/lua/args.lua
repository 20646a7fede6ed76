-- Arguments, all checked before anything is read or written.
local function bad(what)
  return redis.error_reply('ERR quote merge: bad argument: ' .. what)
end
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
