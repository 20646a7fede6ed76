// Package quote keeps the latest price of every coin in one JSON document
// in Redis, as the article's shell consumer did, but merged server-side by
// a Lua script so the update is atomic and never moves a price back in
// time, across restarts and with several writers on the same key.
package quote

import (
	"context"
	_ "embed"
	"errors"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

//go:embed merge.lua
var mergeLua string

// Script merges a batch of prices into the document; see merge.lua.
var Script = redis.NewScript(2, mergeLua)

// Options say where the document lives and what it looks like.
type Options struct {
	Key            string        // the document, e.g. coingecko:rate:usd
	StateKey       string        // the per-coin hash beside it
	Quote          string        // "usd": fields named [fields_]<id>_usd count
	Publish        string        // channel for the new document, "" for none
	Expire         time.Duration // 0: keys never expire
	TimestampUnits time.Duration // unit of the document's "timestamp" (a power of ten ns)
}

// StateKeyFor names the hash kept beside key. It shares key's hash slot
// (Redis Cluster), so the script may touch both: when key has a hash tag
// the suffix keeps it; otherwise the whole key becomes the tag.
func StateKeyFor(key string) string {
	if open := indexByte(key, '{'); open >= 0 {
		if closing := indexByte(key[open+1:], '}'); closing > 0 {
			return key + ":prices"
		}
	}
	return "{" + key + "}:prices"
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// price is the newest value seen for one coin in a batch: a float, or the
// text of a JSON number not converted yet (most prices of a batch are
// replaced by newer ones before it is written, so they are never parsed).
type price struct {
	time  int64 // ns
	value float64
	text  []byte // when lazy
	lazy  bool
	used  bool
}

func (p *price) set(t int64, f *metricline.Field, v float64) {
	p.time = t
	if f != nil && f.Kind == metricline.Decimal {
		p.text, p.lazy = append(p.text[:0], f.Str...), true
		return
	}
	p.value, p.lazy = v, false
}

func (p *price) float() float64 {
	if p.lazy {
		// The decoder checked the text is a number within range.
		v, _ := strconv.ParseFloat(string(p.text), 64)
		return v
	}
	return p.value
}

func (p *price) copyFrom(o *price) {
	p.time, p.value, p.lazy = o.time, o.value, o.lazy
	p.text = append(p.text[:0], o.text...)
}

// Batch coalesces metrics into the newest price per coin. Its memory is
// bounded by the number of coins, not by the number of metrics.
type Batch struct {
	opts     *Options
	prefix   string // "fields_": the kafka_consumer JSON parser's flattening
	suffix   string // "_usd"
	coins    map[string]*price
	used     int
	metrics  int
	buf      []byte
	args     []interface{}
	ids      []string
	unitDigs string
}

// maxIdle bounds the coins remembered across batches (to reuse their map
// entries without allocating) before the map is cleared.
const maxIdle = 4096

// NewBatch returns an empty batch.
func NewBatch(opts *Options) *Batch {
	digits := 0
	for u := opts.TimestampUnits; u >= 10; u /= 10 {
		digits++
	}
	return &Batch{
		opts:     opts,
		prefix:   "fields_",
		suffix:   "_" + opts.Quote,
		coins:    make(map[string]*price),
		unitDigs: strconv.Itoa(digits),
	}
}

// ErrBeforeEpoch refuses metrics whose time cannot be ordered in the
// stored per-coin timestamps.
var ErrBeforeEpoch = errors.New("timestamp is before 1970; a price needs a time to be ordered by")

// Add takes every price field of m: a field named [fields_]<id>_<quote>
// whose value is a finite number or a numeric string. Other fields are not
// prices and are ignored. Within a batch a newer or equally new price of
// a coin replaces the one held.
func (b *Batch) Add(m *metricline.Metric) error {
	if m.Time < 0 {
		return ErrBeforeEpoch
	}
	b.metrics++
	for i := range m.Fields {
		f := &m.Fields[i]
		id := coinID(f.Key, b.prefix, b.suffix)
		if id == nil {
			continue
		}
		var v float64
		switch f.Kind {
		case metricline.Decimal:
			// Converted when written, if still the newest.
		case metricline.String:
			if !isDecimal(f.Str) {
				continue
			}
			var err error
			if v, err = strconv.ParseFloat(string(f.Str), 64); err != nil {
				continue
			}
		default:
			var ok bool
			if v, ok = f.Number(); !ok {
				continue
			}
		}
		if f.Kind != metricline.Decimal && (math.IsNaN(v) || math.IsInf(v, 0)) {
			continue
		}
		p := b.coins[string(id)]
		if p == nil {
			p = &price{}
			b.coins[string(id)] = p
		}
		if !p.used {
			p.used = true
			p.set(m.Time, f, v)
			b.used++
		} else if m.Time >= p.time {
			p.set(m.Time, f, v)
		}
	}
	return nil
}

// coinID returns <id> of a field named [prefix]<id><suffix>, or nil.
func coinID(key []byte, prefix, suffix string) []byte {
	if len(key) > len(prefix) && string(key[:len(prefix)]) == prefix {
		key = key[len(prefix):]
	}
	if len(key) <= len(suffix) || string(key[len(key)-len(suffix):]) != suffix {
		return nil
	}
	return key[:len(key)-len(suffix)]
}

// isDecimal accepts the numeric strings a price may come as: an optional
// sign, digits with an optional fraction, an optional exponent. It refuses
// what strconv would also take but no price feed means: "NaN", "Inf",
// hexadecimal, underscores.
func isDecimal(s []byte) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// Metrics is the number of metrics taken in since the last Reset.
func (b *Batch) Metrics() int { return b.metrics }

// Coins is the number of coins with a price in the batch.
func (b *Batch) Coins() int { return b.used }

// Absorb folds newer, a batch read after b, into b and empties newer.
func (b *Batch) Absorb(newer *Batch) {
	for id, np := range newer.coins {
		if !np.used {
			continue
		}
		p := b.coins[id]
		if p == nil {
			p = &price{}
			b.coins[id] = p
		}
		if !p.used {
			p.copyFrom(np)
			p.used = true
			b.used++
		} else if np.time >= p.time {
			p.copyFrom(np)
		}
	}
	b.metrics += newer.metrics
	newer.Reset()
}

// Reset empties the batch, keeping its memory for the next one.
func (b *Batch) Reset() {
	if len(b.coins) > maxIdle {
		clear(b.coins)
	}
	for _, p := range b.coins {
		p.used = false
	}
	b.used, b.metrics = 0, 0
}

// Result is what the script reported.
type Result struct {
	Changed int // coins whose stored price changed
	Stale   int // coins whose price in the batch was older than the stored one
}

// Write merges the batch into Redis. On error the batch is left as it was,
// to be written again; the merge is idempotent.
func (b *Batch) Write(ctx context.Context, c redis.Conn) (Result, error) {
	if b.used == 0 {
		return Result{}, nil
	}
	reply, err := redis.Ints(Script.DoContext(ctx, c, b.Args()...))
	if err != nil {
		return Result{}, err
	}
	if len(reply) != 2 {
		return Result{}, errors.New("unexpected reply from the merge script")
	}
	return Result{Changed: reply[0], Stale: reply[1]}, nil
}

// Args are the script's keys and arguments for the batch, coins sorted by
// id so that the same batch always gives the same command.
func (b *Batch) Args() []interface{} {
	b.ids = b.ids[:0]
	for id, p := range b.coins {
		if p.used {
			b.ids = append(b.ids, id)
		}
	}
	sort.Strings(b.ids)

	var expire int64
	if b.opts.Expire > 0 {
		expire = max(1, b.opts.Expire.Milliseconds())
	}
	b.buf = b.buf[:0]
	b.buf = appendJSONString(b.buf, b.opts.Quote)
	quoteEnd := len(b.buf)
	b.args = append(b.args[:0], b.opts.Key, b.opts.StateKey, nil,
		strconv.FormatInt(expire, 10), b.opts.Publish, b.unitDigs)

	// Entries are appended to one buffer and sliced afterwards, so the
	// buffer may grow without invalidating earlier slices.
	ends := make([]int, 0, len(b.ids))
	for _, id := range b.ids {
		b.buf = b.appendEntry(b.buf, id, b.coins[id])
		ends = append(ends, len(b.buf))
	}
	b.args[2] = b.buf[:quoteEnd]
	start := quoteEnd
	for i, id := range b.ids {
		b.args = append(b.args, id, b.buf[start:ends[i]])
		start = ends[i]
	}
	return b.args
}

// appendEntry writes "<order> <T> {"id":..,"price":".."}" for one coin.
func (b *Batch) appendEntry(dst []byte, id string, p *price) []byte {
	order := strconv.AppendInt(nil, p.time, 10)
	for i := len(order); i < 20; i++ {
		dst = append(dst, '0')
	}
	dst = append(dst, order...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, p.time/int64(b.opts.TimestampUnits), 10)
	dst = append(dst, ` {"id":`...)
	dst = appendJSONString(dst, id)
	dst = append(dst, `,"price":"`...)
	dst = FormatPrice(dst, p.float())
	dst = append(dst, `"}`...)
	return dst
}

// FormatPrice appends the shortest plain decimal that reads back to v:
// never an exponent, so 1.2345678901234e-05 is "0.000012345678901234".
func FormatPrice(dst []byte, v float64) []byte {
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
}

// appendJSONString appends s as a JSON string. s is valid UTF-8 (the
// decoders check it), so only quotes, backslashes and control characters
// need escaping.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
