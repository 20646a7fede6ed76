package metricpairs_test

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricpairs"
)

// A system metric as redis-output writes it, in both layouts: the work per
// entry of a reader between the pairs and the line.
var (
	typedPairs = []string{"_measurement", "cpu", "_time", "1795552004000000000", "#cpu", "cpu-total", "#dc", "eu-west-1",
		"#env", "production", "#host", "host-01", "#rack", "r12", "usage_guest", "0", "usage_guest_nice", "0",
		"usage_idle", "97.5", "usage_iowait", "0.125", "usage_irq", "0", "usage_nice", "0", "usage_softirq", "0.0625",
		"usage_steal", "0", "usage_system", "1.0625", "usage_user", "1.25"}
	flatPairs = append([]string{"cpu", "cpu-total", "dc", "eu-west-1", "env", "production", "host", "host-01", "rack", "r12"},
		typedPairs[14:]...)
)

func benchPairs(b *testing.B, kv, tagKeys []string) {
	c := newTypedCheck(b, tagKeys)
	pairs := bytePairs(kv...)
	var buf []byte
	t := time.Unix(1795552004, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var m telegraf.Metric
		var err error
		if metricpairs.Typed(pairs) {
			m, err = metricpairs.TypedMetric(pairs, nil, c.tagFilter, t)
		} else {
			m, err = metricpairs.FlatMetric("redis_consumer", pairs, nil, c.tagFilter, t)
		}
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = serialize(buf[:0], m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPairsTyped(b *testing.B) { benchPairs(b, typedPairs, nil) }

func BenchmarkPairsFlat(b *testing.B) {
	benchPairs(b, flatPairs, []string{"cpu", "dc", "env", "host", "rack"})
}

// Entries in the flat layout come out of FlatWriter byte for byte as they
// come out of FlatMetric and the encoder, errors included: pairs
// built from keys given twice, empty keys, tag_keys (globs), and values at
// the edges of the decimal rule.
func TestFlatLinesAsBefore(t *testing.T) {
	c := newTypedCheck(t, []string{"host", "t*"})
	keys := []string{"host", "tag", "t", "", "a", "b", "usage_idle", "a b", "x=y", "é", "h,1", `q"`}
	values := []string{"0", "-0", "1", "1.50", "97.5", "1e3", "1E3", "+5", "-", ".", "1e400", "-1e400", "NaN", "Inf",
		"0x10", "1_000", "", "text", `a"b\c`, "12345678901234567", "0.1", "5e-324", "1e-320", "00", "1.", ".5", "e5",
		"1e", "true", "a b", "x\ny", "\\"}
	rng := rand.New(rand.NewPCG(3, 4))
	w := metricpairs.NewFlatWriter("redis_consumer", c.tagFilter)
	when := time.UnixMilli(1795552004123)
	wrote := 0
	for n := 0; n < 30000; n++ {
		var pairs [][]byte
		for j := rng.IntN(8); j >= 0; j-- {
			pairs = append(pairs, []byte(keys[rng.IntN(len(keys))]), []byte(values[rng.IntN(len(values))]))
		}
		if rng.IntN(50) == 0 {
			pairs = pairs[:len(pairs)-1]
		}
		var want []byte
		m, werr := metricpairs.FlatMetric("redis_consumer", pairs, nil, c.tagFilter, when)
		if werr == nil {
			want, werr = serialize([]byte("x"), m)
		}
		got, gerr := w.Append([]byte("x"), pairs, when)
		switch {
		case (werr == nil) != (gerr == nil):
			t.Fatalf("%q: before %v, now %v", pairs, werr, gerr)
		case werr != nil && (werr.Error() != gerr.Error() || string(got) != "x"):
			t.Fatalf("%q: before %v, now %v leaving %q", pairs, werr, gerr, got)
		case werr == nil && !bytes.Equal(got, want):
			t.Fatalf("%q:\nbefore %q\nnow    %q", pairs, want, got)
		}
		if werr == nil {
			wrote++
		}
	}
	if wrote < 10000 {
		t.Fatalf("only %d of 30000 entries written: the test no longer reaches the writer", wrote)
	}
}

func BenchmarkFlatWriter(b *testing.B) {
	c := newTypedCheck(b, []string{"cpu", "dc", "env", "host", "rack"})
	pairs := bytePairs(flatPairs...)
	w := metricpairs.NewFlatWriter("redis_consumer", c.tagFilter)
	var buf []byte
	t := time.Unix(1795552004, 0)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = w.Append(buf[:0], pairs, t); err != nil {
			b.Fatal(err)
		}
	}
}
