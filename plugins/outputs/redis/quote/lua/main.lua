-- The entry point: the splice when the meta says the layout is this one;
-- else, or when the splice finds something out of step, the rebuild. Its
-- module is joined after this one, so that its functions are made only
-- when it runs (making a function costs each call of the script).
local meta = readmeta()
local reply, why
if meta.v ~= '2' then
  -- No meta: a first write, or the first with this layout (an upgrade).
  -- A meta of another type or with another v is garbage: repaired. (TYPE,
  -- not EXISTS: the least ACL of quote mode has it already.)
  why = 'new'
  if redis.call('TYPE', META).ok ~= 'none' then why = 'meta' end
elseif meta.ix == '1' then
  reply, why = splice(meta)
elseif meta.ix == '0' then
  why = 'new' -- the previous script's lean layout: rebuilt into this one
else
  why = 'meta'
end
if reply then return reply end
