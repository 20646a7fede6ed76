package quote

import (
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// The merge script's keys and arguments (lua/prelude.lua says what each
// is) are built here, and checked here before every call (checkArgs): the
// script trusts them and checks only what it reads from Redis, so that it
// never stops halfway through a merge on an argument (Redis does not roll
// back a script that fails after its first write).

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

// appendJSONString appends s as a JSON string. s is valid UTF-8 (an id
// that is not is refused by checkArgs), so only quotes, backslashes and
// control characters need escaping (lua/json.lua escapes the same way).
func appendJSONString(dst []byte, s string) []byte { //nolint:unparam // the append form of the package's other encoders
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

// scriptKeys is the number of keys before the script's arguments.
const scriptKeys = 5

// checkArgs checks the keys and arguments of a call of the script: the
// quote a JSON string; the expiry a count of ms; the unit 0 to 9 digits;
// the clock an order (20 digits of ns: from 1970 on), the future limit
// and the age empty or one; the takeover empty or a SHA1 in hex; then m
// imported coins and the batch, triples of a coin id (valid UTF-8, not
// empty, once per list; the batch's in byte order), an order and a price
// (a plain decimal, not negative). The first that is not is named.
func checkArgs(argv []interface{}) error {
	if len(argv) < scriptKeys+9 {
		return fmt.Errorf("quote merge: %d keys and arguments, want at least %d", len(argv), scriptKeys+9)
	}
	arg := func(i int) string { // ARGV[i]
		switch v := argv[scriptKeys+i-1].(type) {
		case string:
			return v
		case []byte:
			return string(v)
		}
		return fmt.Sprint(argv[scriptKeys+i-1])
	}
	bad := func(i int, what string) error {
		return fmt.Errorf("quote merge: bad argument %d (%s): %q", i, what, head([]byte(arg(i))))
	}
	if q := arg(1); len(q) < 3 || q[0] != '"' || q[len(q)-1] != '"' {
		return bad(1, "quote, a JSON string")
	}
	if !allDigits(arg(2)) {
		return bad(2, "expiry in ms")
	}
	if u := arg(4); len(u) != 1 || !allDigits(u) {
		return bad(4, "digits of the timestamp unit")
	}
	if !isOrder(arg(5)) {
		return bad(5, "clock, 20 digits of ns since 1970")
	}
	if a := arg(6); a != "" && !isOrder(a) {
		return bad(6, "future limit, 20 digits of ns")
	}
	if a := arg(7); a != "" && !isOrder(a) {
		return bad(7, "age out, 20 digits of ns")
	}
	if sum := arg(8); sum != "" && !isHex(sum) {
		return bad(8, "SHA1 of the document taken over")
	}
	n := len(argv) - scriptKeys
	m, err := strconv.Atoi(arg(9))
	if err != nil || m < 0 || 9+3*m > n || (n-9)%3 != 0 {
		return bad(9, fmt.Sprintf("imported coins, of %d coins in all", (n-9)/3))
	}
	if i := checkTriples(arg, 10, 10+3*m, false); i > 0 {
		return bad(i, "imported coin")
	}
	if i := checkTriples(arg, 10+3*m, n+1, true); i > 0 {
		return bad(i, "coin of the batch")
	}
	return nil
}

// checkTriples checks the triples (id, order, price) of ARGV[from:to]:
// 0, or the first argument that is wrong. When sorted, the ids must come
// in byte order.
func checkTriples(arg func(int) string, from, to int, sorted bool) int {
	var seen map[string]bool // the batch's ids are in order: no map
	if !sorted {
		seen = make(map[string]bool)
	}
	for i := from; i < to; i += 3 {
		id := arg(i)
		switch {
		case id == "" || !utf8.ValidString(id) || seen[id]:
			return i
		case sorted && i > from && id <= arg(i-3):
			return i
		case !isOrder(arg(i + 1)):
			return i + 1
		case !isPlain(arg(i + 2)):
			return i + 2
		}
		if !sorted {
			seen[id] = true
		}
	}
	return 0
}

// isOrder tells whether s is an order: 20 digits.
func isOrder(s string) bool { return len(s) == 20 && allDigits(s) }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// isPlain tells whether s is a price as the script stores it: digits, and
// at most one point with digits after it.
func isPlain(s string) bool {
	whole, frac, point := s, "", false
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			whole, frac, point = s[:i], s[i+1:], true
			break
		}
	}
	return allDigits(whole) && (!point || allDigits(frac))
}
