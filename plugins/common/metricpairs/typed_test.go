package metricpairs_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/filter"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricpairs"
)

// typedCheck holds TypedWriter to the path through a telegraf.Metric:
// TypedMetric, then the encoder.
type typedCheck struct {
	tagFilter filter.Filter
	w         *metricpairs.TypedWriter
	taken     int // entries the writer took
}

// The time of entries without _time.
var typedCheckDef = time.UnixMilli(1795552004123)

func newTypedCheck(t testing.TB, tagKeys []string) *typedCheck {
	f, err := filter.Compile(tagKeys)
	if err != nil {
		t.Fatal(err)
	}
	return &typedCheck{tagFilter: f, w: metricpairs.NewTypedWriter(f)}
}

// serialize appends the line of m and a newline as redis_consumer's
// output does; on error buf is returned as it was.
func serialize(buf []byte, m telegraf.Metric) ([]byte, error) {
	var v metricline.Metric
	metricline.FromTelegraf(m, &v)
	var enc lineprotocol.Encoder
	out, err := enc.AppendMetric(buf, &v)
	if err != nil {
		return buf, err
	}
	return append(out, '\n'), nil
}

// reference is the line of pairs through TypedMetric and the encoder, or
// why there is none.
func (c *typedCheck) reference(pairs [][]byte, buf []byte) ([]byte, error) {
	m, err := metricpairs.TypedMetric(pairs, nil, c.tagFilter, typedCheckDef)
	if err != nil {
		return buf, err
	}
	return serialize(buf, m)
}

// check compares both paths on pairs: the writer takes exactly the
// entries the reference writes, with the same bytes. The buffer already
// holds a line, which must stay as it is.
func (c *typedCheck) check(t *testing.T, pairs [][]byte) {
	t.Helper()
	prefix := []byte("x\n")
	want, werr := c.reference(pairs, bytes.Clone(prefix))
	if !metricpairs.Typed(pairs) {
		return
	}
	got, ok := c.w.Append(bytes.Clone(prefix), pairs, typedCheckDef)
	switch {
	case ok != (werr == nil):
		t.Fatalf("%q: reference %v, the writer takes it: %v (%q)", pairs, werr, ok, got)
	case !ok && !bytes.Equal(got, prefix):
		t.Fatalf("%q: not taken, but the buffer is now %q", pairs, got)
	case ok && !bytes.Equal(got, want):
		t.Fatalf("%q:\nreference %q\nwriter    %q", pairs, want, got)
	}
	if ok {
		c.taken++
	}
}

func bytePairs(kv ...string) [][]byte {
	pairs := make([][]byte, len(kv))
	for i, s := range kv {
		pairs[i] = []byte(s)
	}
	return pairs
}

// Names and values of the typed layout, well formed and not.
var (
	typedGoodKeys = []string{"#host", "#dc", "#h o,s=t", `#k\`, "#é", "host", `\host`, `\_x`, `\#y`, `\\z`, "a b", "x=y",
		`k\`, "h,1", "usage", "t1", "tag", `q"`, "\n", "u"}
	typedBadKeys  = []string{"_other", "_", "#", "", `\`, "_Measurement", "_time "}
	typedGoodVals = []string{"cpu", "1.5", "-0", "0", "0.0", "-0.0", "3i", "-3i", "0i", "-0i", "-9223372036854775808i",
		"9223372036854775807i", "18446744073709551615u", "0u", "1e308", "-1.7976931348623157e308", "1e-400", "5e-324",
		"+Inf", "-Inf", "true", "T", "t", "False", "FALSE", "f", `"text"`, `""`, `"a\"b"`, `"a\\b"`, "\"a\nb\"",
		`"a\b"`, `"\\\\"`, `"x\\"`, "\"tab\there\"", `"é"`, "1.50", "1e3", "1E3", "+5", "00", "1.", ".5", "-.5", "1e21",
		"1e20", "123456789012345678", "12345678901234567890123", "0.000001", "0.0000001", "1e-7", "9007199254740993",
		"1795552004123456789", "-1", "1.0000000000000002", "4.9e-324", "1e+5", "1e-5"}
	typedBadVals = []string{"", "NaN", "Inf", "inf", "+inf", "tRUE", "yes", `"`, `"a\"`, `"a"b"`, `"\\\"`, `abc"`,
		"9223372036854775808i", "-9223372036854775809i", "18446744073709551616u", "-1u", "1e309", "-1e309",
		"0x10", "1_000", "e5", "1e", ".", "-", "+", "1.2.3", "1i2", "i", "u", "3U", "3I", "- 1", " 1", "1 ", "1e5.5",
		"--1", "1-", "1ee5", "99999999999999999999999999999999999999i"}
	typedTimes = []string{"1795552004123456789", "0", "-1", "-9223372036854775808", "9223372036854775807",
		"9223372036854775808", "-9223372036854775809", "", "1.5", "1e9", "+1", "01", "-0", "x", " 1"}
	typedNames = []string{"cpu", "", "m, x", `m\`, "a=b", "é", "\t", `\`, "m\nn", "#"}
)

func pick(rng *rand.Rand, good, bad []string, badOneIn int) string {
	if rng.IntN(badOneIn) == 0 {
		return bad[rng.IntN(len(bad))]
	}
	return good[rng.IntN(len(good))]
}

// Entries in the typed layout come out of TypedWriter byte for byte as
// they come out of TypedMetric and the encoder, and it refuses exactly
// the ones that break the layout or give no line: names and
// values at the edges of their types and of the grammar, keys that need
// escapes in line protocol, keys given twice, _measurement and _time
// given twice or bad, tag_keys (globs) that turn fields into tags, also
// over a '#' tag of the same key.
func TestTypedLinesAsBefore(t *testing.T) {
	for _, tagKeys := range [][]string{nil, {"host", "t*", "u", `\*`}} {
		c := newTypedCheck(t, tagKeys)
		rng := rand.New(rand.NewPCG(5, 6))
		const n = 30000
		for range n {
			var pairs [][]byte
			for j := rng.IntN(7); j >= 0; j-- {
				pairs = append(pairs, []byte(pick(rng, typedGoodKeys, typedBadKeys, 40)),
					[]byte(pick(rng, typedGoodVals, typedBadVals, 25)))
			}
			// _measurement and _time at any place, now and then missing,
			// twice or bad.
			for _, f := range []struct {
				name   string
				values []string
			}{{metricpairs.NameField, typedNames}, {metricpairs.TimeField, typedTimes}} {
				for k := 0; k < 1+rng.IntN(2)*rng.IntN(2)*rng.IntN(2); k++ {
					if rng.IntN(20) == 0 {
						continue
					}
					v := f.values[0]
					if rng.IntN(8) == 0 {
						v = f.values[rng.IntN(len(f.values))]
					}
					at := 2 * rng.IntN(len(pairs)/2+1)
					pairs = append(pairs[:at], append([][]byte{[]byte(f.name), []byte(v)}, pairs[at:]...)...)
				}
			}
			if rng.IntN(100) == 0 {
				pairs = pairs[:len(pairs)-1]
			}
			c.check(t, pairs)
		}
		t.Logf("tag_keys %q: taken %d of %d", tagKeys, c.taken, n)
		// (Field keys line protocol cannot carry, "\n" and `k\`, are
		// refused on both paths: the writer takes a fifth or a sixth.)
		if c.taken < n/8 || c.taken > n*3/4 {
			t.Fatalf("tag_keys %q: the writer took %d of %d entries: the test no longer tries both sides", tagKeys, c.taken, n)
		}
	}
}

// Hostile entries, one by one, with what they must give: the writer takes
// what it should, and the rest is refused with the Reader's words.
func TestTypedEntriesRefusedAsBefore(t *testing.T) {
	c := newTypedCheck(t, []string{"host", "up"})
	for _, tc := range []struct {
		pairs []string
		line  string // "" when refused
		err   string
	}{
		{[]string{"_measurement", "m", "_time", "5", "#host", "a", "host", `"b"`, "v", "1"}, "m,host=b v=1 5\n", ""},
		{[]string{"_measurement", "m", "_time", "5", "up", "1.5e0", "v", "1"}, "m,up=1.5 v=1 5\n", ""},
		{[]string{"_measurement", "m", "_time", "5", "up", "1e21", "v", "1"}, "m,up=1e+21 v=1 5\n", ""},
		{[]string{"_measurement", "m", "_time", "5", "host", `""`, "#host", "a", "v", "1"}, "m v=1 5\n", ""},
		{[]string{"_measurement", "m", "_time", "5", "#t", "", "v", "+Inf", "w", "-0"}, "m w=-0 5\n", ""},
		{[]string{"_measurement", "m", "v", "3u"}, "m v=3u 1795552004123000000\n", ""},
		{[]string{"_measurement", "m, x=y", "#a b", `c,d=e\`, `\#k`, `"q\"\\"`}, `m\,\ x=y,a\ b=c\,d\=e #k="q\"\\" 1795552004123000000` + "\n", ""},
		{[]string{"_measurement", "m", "_time", "5", "v", "+Inf"}, "", `"m": no serializable fields`},
		{[]string{"_measurement", "m", "_time", "5", "up", "true"}, "", "no fields (all are tag_keys)"},
		{[]string{"_measurement", "m", "_time", "5"}, "", "no fields"},
		{[]string{"_time", "5", "v", "1"}, "", "no _measurement field (the typed layout needs one beside _time)"},
		{[]string{"_measurement", "m", "_measurement", "n", "v", "1"}, "", "_measurement given twice"},
		{[]string{"_measurement", "", "v", "1"}, "", "_measurement is empty"},
		{[]string{"_measurement", "m", "_time", "5", "_time", "5", "v", "1"}, "", "_time given twice"},
		{[]string{"_measurement", "m", "_time", "9223372036854775808", "v", "1"}, "", `_time "9223372036854775808" is out of range (year 1678 to 2262)`},
		{[]string{"_measurement", "m", "_time", "1.5", "v", "1"}, "", `_time "1.5" is not an integer number of nanoseconds`},
		{[]string{"_measurement", "m", "_id", "1", "v", "1"}, "", `field "_id": names starting with '_' are reserved for the layout (write a field key ` +
			`"_x" as "\\_x")`},
		{[]string{"_measurement", "m", "#", "a", "v", "1"}, "", `tag "#" has an empty key`},
		{[]string{"_measurement", "m", "#a", "1", "#a", "1", "v", "1"}, "", `tag "a" given twice`},
		{[]string{"_measurement", "m", "v", "1", `\v`, "2"}, "", `field "v" given twice`},
		{[]string{"_measurement", "m", "host", "1", `\host`, "2", "v", "1"}, "", `field "host" given twice`},
		{[]string{"_measurement", "m", `\`, "1"}, "", `field "\\" has an empty key`},
		{[]string{"_measurement", "m", "", "1"}, "", "an entry field has an empty name"},
		{[]string{"_measurement", "m", "v", "NaN"}, "", `field "v": "NaN" is not a value of the layout (1.5, 3i, 3u, true, "text", +Inf)`},
		{[]string{"_measurement", "m", "v", "1e309"}, "", `field "v": number "1e309" is out of the float64 range`},
		{[]string{"_measurement", "m", "v", "9223372036854775808i"}, "", `field "v": integer "9223372036854775808i" is out of the int64 range`},
		{[]string{"_measurement", "m", "v", "18446744073709551616u"}, "", `field "v": unsigned integer "18446744073709551616u" is out of the uint64 range`},
		{[]string{"_measurement", "m", "v", `"a"b"`}, "", `field "v": string has an unescaped double quote at byte 2`},
		{[]string{"_measurement", "m", "v", `"a\"`}, "", `field "v": string without its closing double quote (the last one is escaped)`},
		{[]string{"_measurement", "m", "v", `"`}, "", `field "v": string without its closing double quote`},
		{[]string{"_measurement", "m", "v", ""}, "", `field "v": empty value (a string is written in double quotes)`},
		{[]string{"_measurement", "m", "v"}, "", "odd number of field names and values"},
		// The first error in the order of the pairs is the one named.
		{[]string{"_measurement", "m", "v", "1", "v", "2", "w", "x"}, "", `field "v" given twice`},
		{[]string{"_measurement", "m", "v", "1", "w", "x", "v", "2"}, "", `field "w": "x" is not a value of the layout (1.5, 3i, 3u, true, "text", +Inf)`},
	} {
		pairs := bytePairs(tc.pairs...)
		c.check(t, pairs)
		got, ok := c.w.Append(nil, pairs, typedCheckDef)
		if ok != (tc.line != "") || string(got) != tc.line {
			t.Fatalf("%q: wrote %q (%v), want %q", tc.pairs, got, ok, tc.line)
		}
		if tc.line == "" {
			_, err := c.reference(pairs, nil)
			if err == nil || err.Error() != tc.err {
				t.Fatalf("%q: error %v, want %s", tc.pairs, err, tc.err)
			}
		}
	}
}

// The writer keeps nothing of one entry in the next: strings unescaped
// and tag_keys values of entries of every size, one after the other, each
// as the reference writes it.
func TestTypedWriterReuse(t *testing.T) {
	c := newTypedCheck(t, []string{"t*"})
	for i := range 2000 {
		pairs := bytePairs("_measurement", "m", "_time", "1")
		for j := range i % 40 {
			k := string(rune('a' + j%26))
			pairs = append(pairs, bytePairs("t"+k+strings.Repeat("x", j/26), `"`+strings.Repeat(`\"`, i%7+j)+`"`,
				"f"+k+strings.Repeat("x", j/26), `"`+strings.Repeat(`\\`, j)+`"`)...)
		}
		pairs = append(pairs, bytePairs("v", "1i")...)
		c.check(t, pairs)
	}
	if c.taken != 2000 {
		t.Fatalf("taken %d of 2000", c.taken)
	}
}

// FuzzTypedLinesAsBefore: for any pairs, the writer takes exactly what
// the reference writes, with the same bytes. The input is the pairs separated by NUL
// bytes; named puts _measurement first, so that most inputs are typed.
func FuzzTypedLinesAsBefore(f *testing.F) {
	for _, kv := range [][]string{
		typedPairs,
		{"_measurement", "m", "_time", "5", "#host", "a", "host", `"b"`, "v", "1"},
		{"_time", "-9223372036854775808", "#a b", `c,d=e\`, `\#k`, `"q\"\\"`, "n", "-9223372036854775808i", "u", "18446744073709551615u"},
		{"_measurement", "m", "v", "+Inf", "w", "-Inf", "x", "1e-400", "y", "-0", "z", "1.50"},
		{"_measurement", "m", "v", "1", "v", "2"},
		{"_measurement", "m", "tag", `"x\\"`, "t", "T", "up", "1e21", "#up", "z"},
	} {
		f.Add([]byte(strings.Join(kv, "\x00")), false)
	}
	f.Add([]byte("v\x001.5\x00#t\x00a\x00u\x003u"), true)
	checks := []*typedCheck{newTypedCheck(f, nil), newTypedCheck(f, []string{"host", "t*", "up"})}
	f.Fuzz(func(t *testing.T, data []byte, named bool) {
		if named {
			data = append([]byte("_measurement\x00m\x00"), data...)
		}
		pairs := bytes.Split(data, []byte{0})
		for _, c := range checks {
			c.check(t, pairs)
		}
	})
}

// BenchmarkTypedWriter is BenchmarkPairsTyped's entry on the direct path.
func BenchmarkTypedWriter(b *testing.B) {
	c := newTypedCheck(b, nil)
	pairs := bytePairs(typedPairs...)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var ok bool
		if buf, ok = c.w.Append(buf[:0], pairs, typedCheckDef); !ok {
			b.Fatal("not taken")
		}
	}
}
