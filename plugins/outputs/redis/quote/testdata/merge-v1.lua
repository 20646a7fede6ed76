-- Merges newer coin prices into the quote document, atomically.
--
-- KEYS[1]  the document: {"timestamp":T,"quote":"usd","prices":[{"id":..,"price":".."},..]}
-- KEYS[2]  a hash beside it, one field per coin: "<order> <T> <price object>", where
--          <order> is the metric time in nanoseconds, zero-padded to 20 digits
-- ARGV[1]  the quote currency as a JSON string ("usd" with its quotes)
-- ARGV[2]  milliseconds to expire both keys after, 0 for never
-- ARGV[3]  channel to PUBLISH the new document on, '' for none
-- ARGV[4]  digits of the document's timestamp unit in nanoseconds (9 for seconds)
-- ARGV[5..] pairs: coin id, its entry as stored in KEYS[2]
--
-- A coin's price is replaced only by one at least as new, so a Kafka replay
-- or a slower writer never moves it back in time. Returns {changed, stale}.

-- Order keys are compared as two 10-digit numbers: exact in Lua's doubles,
-- and free of the locale that string comparison would use.
local function older(a, b)
  local ah, bh = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if ah ~= bh then return ah < bh end
  return tonumber(string.sub(a, 11, 20)) < tonumber(string.sub(b, 11, 20))
end

-- Byte order, like Go's sort, whatever the server's locale.
local function before(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- Without the hash (first run, or a document written by the old shell
-- consumer) the stored document is taken in, so no coin is forgotten.
if redis.call('EXISTS', KEYS[2]) == 0 then
  local doc = redis.call('GET', KEYS[1])
  if doc then
    local ok, d = pcall(cjson.decode, doc)
    if ok and type(d) == 'table' and type(d.prices) == 'table' and type(d.timestamp) == 'number' and d.timestamp >= 0 then
      local t = string.format('%.0f', d.timestamp)
      local order = t .. string.rep('0', tonumber(ARGV[4]))
      order = string.rep('0', 20 - #order) .. order
      if #order == 20 then
        for _, p in ipairs(d.prices) do
          if type(p) == 'table' and type(p.id) == 'string' and p.price ~= nil then
            local entry = order .. ' ' .. t .. ' {"id":' .. cjson.encode(p.id) .. ',"price":' .. cjson.encode(tostring(p.price)) .. '}'
            redis.call('HSET', KEYS[2], p.id, entry)
          end
        end
      end
    end
  end
end

local changed, stale = 0, 0
for i = 5, #ARGV, 2 do
  local id, entry = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', KEYS[2], id)
  if old and older(entry, old) then
    stale = stale + 1
  elseif old ~= entry then
    redis.call('HSET', KEYS[2], id, entry)
    changed = changed + 1
  end
end

local ttl = tonumber(ARGV[2])
if changed == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
  return {0, stale}
end

local all = redis.call('HGETALL', KEYS[2])
local ids, entries = {}, {}
for i = 1, #all, 2 do
  ids[#ids + 1] = all[i]
  entries[all[i]] = all[i + 1]
end
table.sort(ids, before)

local newest, newestT = nil, '0'
local prices = {}
for n, id in ipairs(ids) do
  local e = entries[id]
  local order = string.sub(e, 1, 20)
  local sp = string.find(e, ' ', 22, true)
  if newest == nil or older(newest, order) then
    newest, newestT = order, string.sub(e, 22, sp - 1)
  end
  prices[n] = string.sub(e, sp + 1)
end

local doc = '{"timestamp":' .. newestT .. ',"quote":' .. ARGV[1] .. ',"prices":[' .. table.concat(prices, ',') .. ']}'
redis.call('SET', KEYS[1], doc)
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
if ARGV[3] ~= '' then
  redis.call('PUBLISH', ARGV[3], doc)
end
return {changed, stale}
