package quote

import (
	"sort"
	"strconv"
	"time"
)

// order is a time in ns as the script compares them: 20 digits.
func order(ns int64) string {
	s := strconv.FormatInt(ns, 10)
	if len(s) < 20 {
		s = "00000000000000000000"[:20-len(s)] + s
	}
	return s
}

// Args are the script's keys and arguments for the batch, coins sorted by
// id (byte order, as the script needs), for the clock now.
func (b *Batch) Args() []interface{} { return b.argsAt(b.opts.now(), nil, "") }

// imported is a coin taken over from a document another program wrote.
type imported struct{ id, order, price string }

func (b *Batch) argsAt(now time.Time, imports []imported, sum string) []interface{} {
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
	future, age := "", ""
	if b.opts.MaxFuture > 0 {
		future = order(now.UnixNano() + int64(b.opts.MaxFuture))
	}
	if b.opts.AgeOut > 0 {
		age = order(int64(b.opts.AgeOut))
	}
	keys := b.opts.Keys()
	b.argv = append(b.argv[:0], keys[0], keys[1], keys[2], keys[3], keys[4],
		string(appendJSONString(nil, b.opts.Quote)), strconv.FormatInt(expire, 10), b.opts.Publish, b.unitDigs,
		order(now.UnixNano()), future, age, sum, strconv.Itoa(len(imports)))
	for _, c := range imports {
		b.argv = append(b.argv, c.id, c.order, c.price)
	}
	// Prices are appended to one buffer and sliced afterwards, so the
	// buffer may grow without invalidating earlier slices.
	b.buf = b.buf[:0]
	ends := make([]int, 0, len(b.ids))
	for _, id := range b.ids {
		b.buf = FormatPrice(b.buf, b.coins[id].float())
		ends = append(ends, len(b.buf))
	}
	start := 0
	for i, id := range b.ids {
		b.argv = append(b.argv, id, order(b.coins[id].time), b.buf[start:ends[i]])
		start = ends[i]
	}
	return b.argv
}

// appendJSONString appends s as a JSON string. s is valid UTF-8 (the
// decoders check it), so only quotes, backslashes and control characters
// need escaping (merge.lua escapes the same way).
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
