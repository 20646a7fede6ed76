package commands

import (
	"crypto/sha1" //nolint:gosec // Redis names a script by its SHA-1: not a security use
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/mna/redisc"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Idempotent writes (option deduplicate). Every metric written to a stream
// or a list carries an id derived from the metric itself (name, tags,
// fields and time, in Telegraf's canonical order: two metrics equal in all
// of these are one point), so that a retry or a replay of the same metric
// gives the same id. A script writes the metric only if its id is not in
// the memory of ids applied by this producer to this key, and records it
// there, atomically with the write: a write whose reply was lost (Redis
// killed, a failover, a timeout, our process killed) is skipped when it
// is sent again.
//
// The memory is a sorted set per producer and key, of ids scored by the
// time they were applied, trimmed on every write to the ids of the last
// Window and to at most MaxIDs of them, and expiring after Window without
// writes. Its key carries a hash tag of the written key's slot, so that on
// a Redis Cluster both are in one slot (a script may only touch one).
// A replay of a metric whose id has left the memory (older than the
// window, or more than MaxIDs writes ago to the key) is written again.

// Idem configures idempotent writes; the zero value (nil) turns them off.
type Idem struct {
	// Producer names this writer: the same for every run of the same
	// configuration, so that a replay after a restart finds its ids.
	Producer string
	Window   time.Duration // how long an applied id is remembered
	MaxIDs   int           // how many applied ids are remembered per key
}

// idemScript writes the metrics of one key sent in one pipelined chunk,
// those whose id is not applied yet, and records their ids: one call, so
// the lookup (ZMSCORE), the write and the record are one step, and the
// script's cost is shared by the chunk's metrics for the key. A list gets
// its new values in one RPUSH. The write's own error is returned as Redis
// gave it (pcall), after recording the ids of the metrics written before
// it (none, but for a fault in the middle of a stream's XADDs), so a
// retry writes the rest once. It returns how many ids were applied
// already (a metric twice in the call counts as applied the second time).
//
// KEYS[1] the key written, KEYS[2] its memory of applied ids.
// ARGV: now (ms), oldest score kept ("(" ms), window (ms), max ids, the
// command, the number of metrics, then each metric's id, its number of
// arguments after the key, and those arguments.
const idemScript = `local key, mem = KEYS[1], KEYS[2]
local cmd, k = ARGV[5], tonumber(ARGV[6])
local ids, at, len = {}, {}, {}
local p = 7
for e = 1, k do
  ids[e] = ARGV[p]
  len[e] = tonumber(ARGV[p + 1])
  at[e] = p + 2
  p = p + 2 + len[e]
end
local seen = redis.call('ZMSCORE', mem, unpack(ids))
local new, fresh, skipped = {}, {}, 0
for e = 1, k do
  if seen[e] or fresh[ids[e]] then
    skipped = skipped + 1
  else
    fresh[ids[e]] = true
    new[#new + 1] = e
  end
end
local done = new
local r
if #new > 0 and cmd == 'RPUSH' then
  local vals = {}
  for _, e in ipairs(new) do
    for j = 0, len[e] - 1 do vals[#vals + 1] = ARGV[at[e] + j] end
  end
  r = redis.pcall('RPUSH', key, unpack(vals))
  if type(r) == 'table' and r.err then return r end
elseif #new > 0 then
  done = {}
  for _, e in ipairs(new) do
    r = redis.pcall(cmd, key, unpack(ARGV, at[e], at[e] + len[e] - 1))
    if type(r) == 'table' and r.err then break end
    r = nil
    done[#done + 1] = e
  end
end
if #done > 0 then
  local z = {}
  for _, e in ipairs(done) do
    z[#z + 1] = ARGV[1]
    z[#z + 1] = ids[e]
  end
  redis.call('ZADD', mem, unpack(z))
  redis.call('ZREMRANGEBYSCORE', mem, '-inf', ARGV[2])
  local n = redis.call('ZCARD', mem)
  local keep = tonumber(ARGV[4])
  if n > keep then redis.call('ZREMRANGEBYRANK', mem, 0, n - keep - 1) end
  redis.call('PEXPIRE', mem, ARGV[3])
end
if type(r) == 'table' and r.err then return r end
return skipped
`

// idemSHA is the script's SHA-1, as EVALSHA names it.
var idemSHA = func() string {
	sum := sha1.Sum([]byte(idemScript)) //nolint:gosec // see the import
	return hex.EncodeToString(sum[:])
}()

// idemPrefix starts every memory key.
const idemPrefix = "telegraf-redis:idem:{"

// idemHead is the number of arguments of the script's call before its
// metrics: EVALSHA, its sha and key count, the key, its memory, and the
// script's ARGV up to the number of metrics.
const idemHead = 11

// idemState is what the batches of one Mode share for idempotent writes.
type idemState struct {
	Idem
	log            telegraf.Logger
	window, maxIDs string
	skipped        atomic.Int64 // writes skipped as already applied
}

func newIdemState(c *Idem, log telegraf.Logger) *idemState {
	if c == nil {
		return nil
	}
	return &idemState{
		Idem:   *c,
		log:    log,
		window: strconv.FormatInt(max(1, c.Window.Milliseconds()), 10),
		maxIDs: strconv.Itoa(c.MaxIDs),
	}
}

// idemArgs are the per-write arguments of the script: now and the oldest
// score kept, formatted once per write.
type idemArgs struct {
	now, oldest []byte
}

func (s *idemState) args(now time.Time, a *idemArgs) {
	ms := now.UnixMilli()
	a.now = strconv.AppendInt(a.now[:0], ms, 10)
	a.oldest = append(a.oldest[:0], '(')
	a.oldest = strconv.AppendInt(a.oldest, ms-s.Window.Milliseconds(), 10)
}

// appendMemKey appends the key of key's memory of applied ids:
// telegraf-redis:idem:{<a tag of key's slot>}:<producer>:<key>.
func (s *idemState) appendMemKey(dst, key []byte) []byte {
	dst = append(dst, idemPrefix...)
	dst = append(dst, slotTag(key)...)
	dst = append(dst, "}:"...)
	dst = append(dst, s.Producer...)
	dst = append(dst, ':')
	return append(dst, key...)
}

// slotTags holds, for every cluster slot, a short string that hashes to it.
var (
	slotTagsOnce sync.Once
	slotTags     []string
)

// slotTag is a hash tag that puts a key in key's slot: the memory of a
// key is in the key's slot whatever the key's own braces say.
func slotTag(key []byte) string {
	slotTagsOnce.Do(func() {
		tags := make([]string, redisc.HashSlots)
		left := len(tags)
		for n := uint64(0); left > 0; n++ {
			t := strconv.FormatUint(n, 36)
			if s := redisc.Slot(t); tags[s] == "" {
				tags[s] = t
				left--
			}
		}
		slotTags = tags
	})
	return slotTags[redisc.Slot(string(key))]
}

// idHasher computes metric ids; each batch has its own.
type idHasher struct {
	canon metricline.Canonical
	buf   []byte
}

// id is the metric's idempotency id: 128 bits of hash over its name, its
// tags and fields in canonical order (sorted, the last of a repeated key)
// with their value types, and its time.
func (h *idHasher) id(m *metricline.Metric) [16]byte {
	h.canon.Of(m)
	b := h.buf[:0]
	b = appendPart(b, m.Name)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.Time))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h.canon.Tags)))
	for _, i := range h.canon.Tags {
		b = appendPart(b, m.Tags[i].Key)
		b = appendPart(b, m.Tags[i].Value)
	}
	for _, i := range h.canon.Fields {
		f := &m.Fields[i]
		b = appendPart(b, f.Key)
		switch f.Kind {
		case metricline.Float, metricline.Decimal:
			v, _ := f.Number()
			b = append(b, byte(metricline.Float))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		case metricline.Int:
			b = append(b, byte(f.Kind))
			b = binary.LittleEndian.AppendUint64(b, uint64(f.Int))
		case metricline.Uint:
			b = append(b, byte(f.Kind))
			b = binary.LittleEndian.AppendUint64(b, f.Uint)
		case metricline.Bool:
			b = append(b, byte(f.Kind))
			if f.Bool {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		default:
			b = append(b, byte(f.Kind))
			b = appendPart(b, f.Str)
		}
	}
	// Two 64-bit hashes: of the encoding, and of it with one more byte.
	var id [16]byte
	binary.LittleEndian.PutUint64(id[:8], xxhash.Sum64(b))
	b = append(b, 0x5a)
	binary.LittleEndian.PutUint64(id[8:], xxhash.Sum64(b))
	h.buf = b
	return id
}

// appendPart appends p with its length, so that parts cannot run into
// each other.
func appendPart(b, p []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...)
}

// ProducerID names a producer from what makes its configuration: the same
// parts give the same id on every run.
func ProducerID(parts ...string) string {
	var b []byte
	for _, p := range parts {
		b = appendPart(b, []byte(p))
	}
	return strconv.FormatUint(xxhash.Sum64(b), 16)
}

// noScript tells a NOSCRIPT reply: the script left the server's cache
// (SCRIPT FLUSH) between its load and its use in one write. The write is
// retried whole, loading it again, as for a refusal for the server's state.
func noScript(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(string(re), "NOSCRIPT")
}

// loadRefused tells why EVALSHA found no script: the SCRIPT LOAD ahead of
// it was refused (a user without +script|load). A refusal of the load
// alone is no error: the script may be in the server's cache already.
func (b *batch) loadRefused(err error) error {
	if b.loadErr != nil && noScript(err) {
		return b.loadErr
	}
	return err
}
