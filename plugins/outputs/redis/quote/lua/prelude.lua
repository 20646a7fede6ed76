-- Merges a batch of coin prices into the quote document, atomically, at a
-- cost that grows with what changed rather than with the document.
--
-- Keys, all in the document's Cluster slot:
--   KEYS[1] the document: {"timestamp":T,"quote":"usd","prices":[{"id":..,"price":".."},..]}
--   KEYS[2] the state, a hash: coin id -> "<order> <T> <price object>", where <order>
--           is the price's time in ns, zero-padded to 20 digits (as in the first layout)
--   KEYS[3] the ids, a sorted set of every coin id with score 0: byte order
--   KEYS[4] the times, a sorted set of "<order> <id>" with score 0: time order
--           (times in ns pass 2^53, so they cannot be scores)
--   KEYS[5] the meta, a hash of named fields (see readmeta in state.lua): the
--           layout, the document's header, length and coins, the newest order,
--           where the audit goes on
-- ARGV:
--   1 the quote currency as a JSON string ("usd" with its quotes)
--   2 milliseconds to expire every key after, 0 for never
--   3 channel to PUBLISH the new document on, '' for none
--   4 digits of the document's timestamp unit in ns (9 for seconds)
--   5 the writer's clock, an order
--   6 the future limit, an order, or '': a stored time beyond it does not hold
--     back a newer price (it could only have come from a clock gone wrong)
--   7 age out, 20 digits of ns, or '': a coin whose time is older than this
--     before the newest price (or the clock, if earlier) is dropped
--   8 takeover: '' or the SHA1 of the document the imported coins were read from
--   9 m, the number of imported coins
--   10.. m triples (id, order, price) imported, then the batch: triples
--     (id, order, price), ids in byte order, prices not negative
-- The client checks every argument before the call (args.go, checkArgs):
-- the script trusts them, and checks everything it reads from Redis.
--
-- Prices are plain decimals; the script renders every entry itself. A coin's
-- price is replaced only by a newer one, or by a higher one of the same
-- time: a Kafka replay or a slower writer never moves it back in time, and
-- the same prices end in the same document in whatever order they come.
--
-- Redis does not roll back a script that fails after a write, so everything
-- stored is read and checked first, and nothing after the first write can
-- fail.
--
-- Two paths. The splice (splice.lua), the usual one, checks that the
-- document is the one last written here (a small one by its SHA1; a large
-- one by its length, header and end, and every entry it touches), that a
-- window of entries going round the document agrees with the state, and
-- that the counts of the state and the indexes agree. It reads a small
-- document in one GETRANGE and writes it whole; a large one it reads in a
-- few GETRANGE windows, finding entries by their rank in the ids, and
-- writes from its first changed byte with SETRANGE unless it shrinks: its
-- cost grows with the coins changed and the bytes after them, not with the
-- coins. Anything out of step (no meta, another writer's document, an
-- unreadable entry, an index that disagrees) sends the merge down the
-- rebuild (rebuild.lua), which rebuilds the indexes and the document from
-- the state (sorted by the ids' sorted set, in C), repairing or dropping
-- what it cannot read.
--
-- The modules are joined in the order script.go lists, each using what the
-- ones before it define: this prelude, decimal.lua, json.lua, args.lua,
-- state.lua, document.lua, splice.lua, main.lua, rebuild.lua.
--
-- Replies {'ok', changed, stale, aged, notes, why}:
--   changed  coins whose stored entry changed
--   stale    pairs: batch index of a price older than the stored one (or as
--            old and lower), stored order
--   aged     triples: coin aged out, its order, batch index of its price ('0': none)
--   notes    triples: coin, what ('repaired', 'dropped', 'future', 'restored',
--            'recovered', 'lost'), detail; 'recovered' and 'lost' name up to
--            NAMED coins (detail: their order, or ''), then give their count
--            with coin ''
--   why      '' after a splice, else why the rebuild ran
-- or {'takeover', document, ours}: the state is missing and the document must
-- be read by the client (exact numbers, units, a log line per coin) and sent
-- back as imported coins; nothing was written.

local DOC, STATE, IDS, TIMES, META = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local QUOTE, TTL, CHANNEL, UD = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local NOW, FUTURE, AGE, TAKEOVER, M = ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9])

local CHUNK = 1000 -- arguments per command: Lua's unpack stops at 8000
local AGE_LIMIT = 1000 -- coins aged out per splice; the rest at the next

-- Entries of the document compared with the state at each splice, from a
-- cursor that goes round the document: a change that leaves the sizes
-- alone (an entry of the state or the document overwritten by another
-- program) is found within n / AUDIT merges, or by the first merge that
-- touches that coin. A small document its SHA1 vouches for needs only
-- its state compared: AUDIT_VOUCHED entries.
local AUDIT = 16
local AUDIT_VOUCHED = 2
local NAMED = 10 -- coins named in the notes of one repair; the rest are counted
