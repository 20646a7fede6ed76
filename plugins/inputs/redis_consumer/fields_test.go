package redis_consumer

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
)

// A system metric as redis-output writes it, in both layouts: the work per
// entry of stream mode between the reply and the serializer.
var (
	typedPairs = []string{"_measurement", "cpu", "_time", "1795552004000000000", "#cpu", "cpu-total", "#dc", "eu-west-1",
		"#env", "production", "#host", "host-01", "#rack", "r12", "usage_guest", "0", "usage_guest_nice", "0",
		"usage_idle", "97.5", "usage_iowait", "0.125", "usage_irq", "0", "usage_nice", "0", "usage_softirq", "0.0625",
		"usage_steal", "0", "usage_system", "1.0625", "usage_user", "1.25"}
	flatPairs = append([]string{"cpu", "cpu-total", "dc", "eu-west-1", "env", "production", "host", "host-01", "rack", "r12"},
		typedPairs[14:]...)
)

func benchPairs(b *testing.B, kv []string, tagKeys []string) {
	p := New()
	p.Mode, p.Key, p.TagKeys = "stream", "s", tagKeys
	p.Log = logger.NewWriter(io.Discard, "")
	if err := p.Init(); err != nil {
		b.Fatal(err)
	}
	pairs := make([][]byte, len(kv))
	for i, s := range kv {
		pairs[i] = []byte(s)
	}
	out := newOutput(io.Discard, nil)
	var buf []byte
	t := time.Unix(1795552004, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := p.pairsMetric(pairs, nil, t)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = out.serialize(buf[:0], []telegraf.Metric{m}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPairsTyped(b *testing.B) { benchPairs(b, typedPairs, nil) }

func BenchmarkPairsFlat(b *testing.B) {
	benchPairs(b, flatPairs, []string{"cpu", "dc", "env", "host", "rack"})
}

// Entries in the flat layout come out of flatWriter byte for byte as they
// came out of fieldsMetric and the serializer, errors included: pairs
// built from keys given twice, empty keys, tag_keys (globs), and values at
// the edges of the decimal rule.
func TestFlatLinesAsBefore(t *testing.T) {
	p := New()
	p.Mode, p.Key, p.TagKeys = "stream", "s", []string{"host", "t*"}
	p.Log = logger.NewWriter(io.Discard, "")
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	keys := []string{"host", "tag", "t", "", "a", "b", "usage_idle", "a b", "x=y", "é", "h,1", `q"`}
	values := []string{"0", "-0", "1", "1.50", "97.5", "1e3", "1E3", "+5", "-", ".", "1e400", "-1e400", "NaN", "Inf",
		"0x10", "1_000", "", "text", `a"b\c`, "12345678901234567", "0.1", "5e-324", "1e-320", "00", "1.", ".5", "e5",
		"1e", "true", "a b", "x\ny", "\\"}
	rng := rand.New(rand.NewPCG(3, 4))
	out := newOutput(io.Discard, nil)
	w := newFlatWriter(p.Measurement, p.tagFilter)
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
		m, werr := p.pairsMetric(pairs, nil, when)
		if werr == nil {
			want, werr = out.serialize([]byte("x"), []telegraf.Metric{m})
		}
		got, gerr := w.append([]byte("x"), pairs, when)
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
	p := New()
	p.Mode, p.Key, p.TagKeys = "stream", "s", []string{"cpu", "dc", "env", "host", "rack"}
	p.Log = logger.NewWriter(io.Discard, "")
	if err := p.Init(); err != nil {
		b.Fatal(err)
	}
	pairs := make([][]byte, len(flatPairs))
	for i, s := range flatPairs {
		pairs[i] = []byte(s)
	}
	w := newFlatWriter(p.Measurement, p.tagFilter)
	var buf []byte
	t := time.Unix(1795552004, 0)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = w.append(buf[:0], pairs, t); err != nil {
			b.Fatal(err)
		}
	}
}
