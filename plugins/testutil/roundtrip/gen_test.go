package roundtrip

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
)

// gen makes metrics from bytes: the fuzzer's input, or random bytes in the
// property test. Every choice takes bytes from the front, so the fuzzer's
// mutations change the metrics they shape; once the bytes run out every
// choice is the first one.
type gen struct{ data []byte }

func (g *gen) byte() byte {
	if len(g.data) == 0 {
		return 0
	}
	b := g.data[0]
	g.data = g.data[1:]
	return b
}

func (g *gen) intn(n int) int { return int(g.byte()) % n }

func (g *gen) uint64() uint64 {
	var v uint64
	for i := 0; i < 8; i++ {
		v = v<<8 | uint64(g.byte())
	}
	return v
}

// Pieces of text: plain ASCII, the bytes our layout and line protocol
// escape or reserve ('_' '#' '\' first in a key; '"' '\' in strings;
// ',' '=' ' ' in line protocol; '*' '%' ':' '{' in key templates),
// multi-byte UTF-8.
var pieces = []string{
	"a", "b", "cpu", "usage", "x", "Z", "0", "9", "-", ".", "_", "#", `\`, `"`, ",", "=", " ", "*", "%", ":", "{", "}",
	"é", "日本", "😀", "\u00a0", "'", "$", "/",
}

// text is a short string of pieces, never empty.
func (g *gen) text() string {
	var b strings.Builder
	for n := 1 + g.intn(6); n > 0; n-- {
		b.WriteString(pieces[g.intn(len(pieces))])
	}
	return b.String()
}

// key is a measurement name, tag key or value, or field key.
//
// What the formats on the way cannot carry is left out, for this reason:
// Telegraf's line protocol (redis-output's data_format = "influx", and
// redis-input's output to [[inputs.execd]] in every case) does not escape
// '\' in names and keys, so its parser reads a '\' before a space, ',',
// '=' or (in tags) '"' as an escape, and trims one at the end; it escapes
// tab, newline, form feed and carriage return in keys but does not
// unescape them; a line starting with '#' is a comment. So keys hold no
// control characters and no such '\', and names do not start with '#'.
func (g *gen) key() string {
	s := g.text()
	for {
		t := strings.TrimRight(s, `\`)
		for _, c := range []string{" ", ",", "=", `"`} {
			t = strings.ReplaceAll(t, `\`+c, c)
		}
		if t == s {
			break
		}
		s = t
	}
	if s == "" {
		s = "k"
	}
	return s
}

func (g *gen) name() string {
	return strings.TrimLeft(g.key(), "#") + "m"
}

// stringValue is a string field: valid UTF-8 of the pieces and control
// characters, newlines included; sometimes long.
func (g *gen) stringValue() string {
	var b strings.Builder
	n := g.intn(8)
	for i := 0; i < n; i++ {
		b.WriteString(pieces[g.intn(len(pieces))])
		if g.intn(8) == 0 {
			b.WriteString([]string{"\n", "\r\n", "\t", "\x00", "\x1f"}[g.intn(5)])
		}
	}
	if g.intn(16) == 0 { // long: up to 64 KiB
		s := b.String() + "long"
		return strings.Repeat(s, 1+(g.intn(256)*256)/len(s))
	}
	return b.String()
}

// Float values at the edges: signed zero, the smallest and largest, the
// switch points of the plain and exponent notations, and the infinities
// (which neither input format carries: see carried).
var floats = []float64{
	0, math.Copysign(0, -1), 1e-300, -1e-300, 5e-324, math.MaxFloat64, -math.MaxFloat64, 2.2250738585072014e-308,
	1e21, 1e-6, 9.999999999999999e20, 0.1, 1.5, 97234.12, 0.000012345678901234, math.Inf(1), math.Inf(-1),
	1 << 53, 1<<53 + 2,
}

func (g *gen) value() any {
	switch g.intn(8) {
	case 0:
		return floats[g.intn(len(floats))]
	case 1:
		v := math.Float64frombits(g.uint64())
		if math.IsNaN(v) { // NaN is no metric value in Telegraf
			v = 0.5
		}
		return v
	case 2:
		return []int64{math.MinInt64, math.MaxInt64, 0, -1, 1}[g.intn(5)]
	case 3:
		return int64(g.uint64())
	case 4:
		edges := []uint64{math.MaxUint64, 0, 1 << 63, 1<<53 + 1}
		return edges[g.intn(len(edges))] //nolint:gosec // G602 misreads it: intn(n) is below n
	case 5:
		return g.uint64()
	case 6:
		return g.intn(2) == 0
	}
	return g.stringValue()
}

// Times: nanoseconds anywhere in Telegraf's range (int64 nanoseconds,
// 1677 to 2262), before 1970 too, and this century's.
func (g *gen) time() time.Time {
	switch g.intn(4) {
	case 0:
		return time.Unix(0, []int64{0, -1, 1, math.MaxInt64, math.MinInt64, 1795552004123456789}[g.intn(6)])
	case 1:
		return time.Unix(0, int64(g.uint64()))
	}
	return time.Unix(0, 1795552004000000000+int64(g.uint64()%1e15))
}

// metrics makes one to four metrics with distinct names (hash and string
// modes keep one metric per key, and the key is made from the name),
// zero to three tags and one to six fields of any type.
func (g *gen) metrics() []telegraf.Metric {
	n := 1 + g.intn(4)
	names := map[string]bool{}
	var ms []telegraf.Metric
	for i := 0; i < n; i++ {
		name := g.name()
		for names[name] {
			name += strconv.Itoa(i)
		}
		names[name] = true
		tags := map[string]string{}
		for j := g.intn(4); j > 0; j-- {
			tags[g.key()] = g.key()
		}
		fields := map[string]any{}
		for j := 1 + g.intn(6); j > 0 || len(fields) == 0; j-- {
			fields[g.key()] = g.value()
		}
		ms = append(ms, metric.New(name, tags, fields, g.time()))
	}
	return ms
}
