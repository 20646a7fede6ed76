local meta = readmeta()
local reply, why
if meta.v ~= '2' then
  -- No meta: a first write, or the first with this layout (an upgrade).
  -- A meta of another type or with another v is garbage: repaired. (TYPE,
  -- not EXISTS: the least ACL of quote mode has it already.)
  why = 'new'
  if redis.call('TYPE', META).ok ~= 'none' then why = 'meta' end
elseif meta.ix == '0' then
  reply, why = lean(meta)
elseif meta.ix == '1' then
  reply, why = indexed(meta)
else
  why = 'meta'
end
if reply then return reply end
return full(why, meta)
