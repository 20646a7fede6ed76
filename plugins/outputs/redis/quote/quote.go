// Package quote keeps the latest price of every coin in one JSON document
// in Redis, as the article's shell consumer did, but merged server-side by
// a Lua script so the update is atomic and never moves a price back in
// time, across restarts and with several writers on the same key.
//
// Beside the document the script keeps the state (a hash of each coin's
// time and price), two indexes (the ids in byte order, the times in time
// order) and a little metadata, so an update splices the document instead
// of rebuilding it: see lua/. This package coalesces what is read into
// the newest price per coin, refuses the prices it cannot keep (counted by
// reason), calls the script, and takes over a document written by another
// program (takeover.go).
package quote

import (
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// price is the newest value seen for one coin in a batch: a float, or the
// text of a JSON number not converted yet (most prices of a batch are
// replaced by newer ones before it is written, so they are never parsed).
type price struct {
	time   int64 // ns
	value  float64
	text   []byte // when lazy
	lazy   bool
	used   bool
	metric int32 // the metric of the batch it came from
}

func (p *price) set(t int64, f *metricline.Field, v float64) {
	p.time = t
	if f.Kind == metricline.Decimal {
		p.text, p.lazy = append(p.text[:0], f.Str...), true
		return
	}
	p.value, p.lazy = v, false
}

func (p *price) float() float64 {
	if p.lazy {
		v, _ := strconv.ParseFloat(string(p.text), 64) //nolint:errcheck // Add took it as a number within range
		return v
	}
	return p.value
}

// beats tells whether the price held wins over field f of the same time
// (value v when parsed, else a lazy decimal not yet read): it is higher.
// Equal times are decided by the price, not by arrival, so that every
// order of the same prices ends in the same document; the script decides
// the same way. Equal values are written alike (FormatPrice), so either
// may stay: the later replaces the held one, as a newer one would.
func (p *price) beats(f *metricline.Field, v float64, parsed bool) bool {
	if !parsed {
		// Ties are common (a feed stamps its prices by the second): two
		// decimals are compared as text, without parsing either.
		// Rounding keeps the order, so where the texts differ and their
		// floats do not, either price writes the same document.
		if p.lazy {
			if c, ok := compareDecimal(p.text, f.Str); ok {
				return c > 0
			}
		}
		v, _ = f.Number()
	}
	return p.float() > v
}

// higher tells whether p is above o, a price of the same time; two lazy
// decimals are compared as text, as in beats.
func (p *price) higher(o *price) bool {
	if p.lazy && o.lazy {
		if c, ok := compareDecimal(p.text, o.text); ok {
			return c > 0
		}
	}
	return p.float() > o.float()
}

func (p *price) copyFrom(o *price) {
	p.time, p.value, p.lazy, p.metric = o.time, o.value, o.lazy, o.metric
	p.text = append(p.text[:0], o.text...)
}

// What became of a metric's prices, besides the coins that hold one.
const (
	hasPrice   = 1 << iota // a field named like a price
	superseded             // a price replaced by a newer one of the same coin in the batch
)

// Batch coalesces metrics into the newest price per coin. Its memory is
// bounded by the number of coins plus a few bytes per metric.
type Batch struct {
	opts    *Options
	prefix  string // "fields_": the kafka_consumer JSON parser's flattening
	suffix  string // "_usd"
	coins   map[string]*price
	used    int
	metrics int

	// seen remembers, per field position, the last key found there and
	// what it named: a feed sends the same coins in the same order, so
	// one compare of the key replaces cutting out the id and a map
	// lookup (the profile: a third of Add). Its prices are entries of
	// coins, so it is emptied whenever coins is.
	seen []seenField

	// Per metric of the batch, in reading order: how many coins hold its
	// price, and the fate bits above. A metric counts as written only when
	// one of the prices it holds reaches the document.
	held []int32
	fate []uint8

	refused  [NumReasons]Refusal // by Add (Stale comes from the script)
	futureAt int64               // no metric up to this time is too far ahead (ns)

	buf      []byte
	argv     []interface{}
	ids      []string
	unitDigs string
	scratch  []int32
}

// seenField is what a field key named the last time it was seen.
type seenField struct {
	key   string // the whole field key
	id    string // the coin id in it
	price bool   // named like a price
	badID bool   // named like a price of a coin whose id is not UTF-8
	p     *price // the coin's entry in coins
}

// maxSeen bounds the field positions remembered.
const maxSeen = 64

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

// Add takes every price field of m: a field named [fields_]<id>_<quote>.
// Its value must be a finite number within float64's normal range, or a
// string holding one; other values are refused (counted by reason), as are
// all prices of a metric dated more than MaxFuture ahead of the clock.
// Fields not named like a price are ignored. Within a batch a newer price
// of a coin replaces the one held, and one as new replaces it when it is
// not lower (the order of arrival decides nothing).
func (b *Batch) Add(m *metricline.Metric) error {
	if m.Time < 0 {
		return ErrBeforeEpoch
	}
	idx := int32(len(b.held))
	b.held = append(b.held, 0)
	b.metrics++
	future := false
	if b.opts.MaxFuture > 0 && m.Time > b.futureAt {
		// The limit is read from the clock only when a metric passes the
		// one computed last: time only moves forward.
		b.futureAt = b.opts.now().UnixNano() + int64(b.opts.MaxFuture)
		future = m.Time > b.futureAt
	}
	var fate uint8
	var once seenField // a field past maxSeen
	for i := range m.Fields {
		f := &m.Fields[i]
		s := &once
		if i < maxSeen {
			if i == len(b.seen) {
				b.seen = append(b.seen, seenField{})
			}
			s = &b.seen[i]
		}
		if string(f.Key) != s.key || s == &once {
			b.learn(s, f.Key)
		}
		if !s.price {
			if s.badID {
				fate |= hasPrice
				b.refused[BadCoinID].add(s.id, f.Text(), m.Time)
			}
			continue
		}
		fate |= hasPrice
		var v float64
		// A lazy decimal is converted when written; only one that may be
		// tiny, or is negative, is checked now.
		parsed := f.Kind != metricline.Decimal || mayBeTiny(f.Str) || (len(f.Str) > 0 && f.Str[0] == '-')
		if parsed {
			var reason Reason
			var ok bool
			if v, reason, ok = value(f); !ok {
				b.refused[reason].add(s.id, f.Text(), m.Time)
				continue
			}
		}
		if future {
			b.refused[Future].add(s.id, f.Text(), m.Time)
			continue
		}
		p := s.p
		switch {
		case !p.used:
			p.used = true
			b.used++
		case m.Time > p.time || (m.Time == p.time && !p.beats(f, v, parsed)):
			b.held[p.metric]--
			if p.metric == idx {
				fate |= superseded
			} else {
				b.fate[p.metric] |= superseded
			}
		default:
			fate |= superseded // by the newer (or, as new, higher) price held
			continue
		}
		p.set(m.Time, f, v)
		p.metric = idx
		b.held[idx]++
	}
	b.fate = append(b.fate, fate)
	return nil
}

// learn notes in s what the field key names: not a price, or a coin and
// its entry (made now if new).
func (b *Batch) learn(s *seenField, key []byte) {
	id := coinID(key, b.prefix, b.suffix)
	if id == nil {
		*s = seenField{key: string(key)}
		return
	}
	if !utf8.Valid(id) {
		// Line protocol can carry such a key; the document cannot, and the
		// script refuses the whole call: refused here, alone.
		*s = seenField{key: string(key), id: string(id), badID: true}
		return
	}
	p := b.coins[string(id)]
	if p == nil {
		p = &price{}
		b.coins[string(id)] = p
	}
	*s = seenField{key: string(key), id: string(id), price: true, p: p}
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

// Metrics is the number of metrics taken in since the last Reset.
func (b *Batch) Metrics() int { return b.metrics }

// Coins is the number of coins with a price in the batch.
func (b *Batch) Coins() int { return b.used }

// Absorb folds newer, a batch read after b, into b and empties newer.
func (b *Batch) Absorb(newer *Batch) {
	shift := int32(len(b.held))
	b.held = append(b.held, newer.held...)
	b.fate = append(b.fate, newer.fate...)
	for id, np := range newer.coins {
		if !np.used {
			continue
		}
		p := b.coins[id]
		if p == nil {
			p = &price{}
			b.coins[id] = p
		}
		switch {
		case !p.used:
			p.used = true
			b.used++
		case np.time > p.time || (np.time == p.time && !p.higher(np)):
			b.held[p.metric]--
			b.fate[p.metric] |= superseded
		default:
			b.held[np.metric+shift]--
			b.fate[np.metric+shift] |= superseded
			continue
		}
		p.copyFrom(np)
		p.metric += shift
	}
	for r := range b.refused {
		b.refused[r].merge(newer.refused[r])
	}
	b.metrics += newer.metrics
	newer.Reset()
}

// Reset empties the batch, keeping its memory for the next one.
func (b *Batch) Reset() {
	if len(b.coins) > maxIdle {
		clear(b.coins)
		clear(b.seen) // its prices were entries of coins
		b.seen = b.seen[:0]
	}
	for _, p := range b.coins {
		p.used = false
	}
	b.used, b.metrics = 0, 0
	b.held, b.fate = b.held[:0], b.fate[:0]
	b.refused = [NumReasons]Refusal{}
}
