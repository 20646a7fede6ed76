-- The coins of the arguments: imported (taken over from a document read by
-- the client) and the batch's, each {id, order, price, prefix (its price
-- object up to the price), obj (its price object), idx (its place in its
-- list, from 1)}. The client checked every argument (args.go, checkArgs):
-- they are read, not checked again.

-- triples reads the coins of ARGV[from..to].
local function triples(from, to)
  local list, ids = {}, {}
  for i = from, to, 3 do ids[#ids + 1] = ARGV[i] end
  -- An id with nothing to escape (the usual one) is its own JSON string.
  local special = string.find(table.concat(ids, ''), '[%z\1-\31"\\]')
  for i = from, to, 3 do
    local id, order, price = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local prefix
    if special then prefix = prefixof(id) else prefix = '{"id":"' .. id .. '","price":"' end
    list[#list + 1] = {id = id, order = order, prefix = prefix, price = price, obj = prefix .. price .. '"}',
      idx = (i - from) / 3 + 1}
  end
  return list
end

local imports = triples(10, 9 + 3 * M)
local batch = triples(10 + 3 * M, #ARGV)
local byid = {}
for _, c in ipairs(batch) do byid[c.id] = c end
