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
