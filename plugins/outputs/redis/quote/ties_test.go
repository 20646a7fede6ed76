package quote

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestEqualTimesIntegration is issue 19's fifth reproduction: two prices
// of one coin with the same time, and the last writer won, so a replay
// flipped 1 -> 2 -> 1 and two consumers could end with different
// documents. Now the higher price stays, whatever came first: in Redis
// (the script) and in a batch that holds both (Batch.Add).
func TestEqualTimesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	one := func(v float64) *metricline.Metric { return metricWith(t0, map[string]interface{}{"bitcoin_usd": v}) }

	write(t, c, o, one(1))
	write(t, c, o, one(2))
	out := write(t, c, o, one(1)) // the replay
	if got := prices(must(readDoc(t, c, "q"))); got["bitcoin"] != "2" {
		t.Fatalf("a replay of the same time flipped the price to %s", got["bitcoin"])
	}
	if out.Refusals[Stale].Count != 1 || out.Written != 0 ||
		!informed(out, `refused 1 price: older than stored, or as old and lower (e.g. coin "bitcoin" at 2026-11-24T20:26:44Z, a higher price of that `+
			`time stored)`) {
		t.Fatalf("outcome %+v", out)
	}
	consistent(t, c, o)

	// Both in one batch, in either order.
	for _, vs := range [][]float64{{2, 1}, {1, 2}} {
		do(t, c, "FLUSHALL")
		out := write(t, c, o, one(vs[0]), one(vs[1]))
		if got := prices(must(readDoc(t, c, "q"))); got["bitcoin"] != "2" || out.Written != 1 || out.Superseded != 1 {
			t.Fatalf("batch %v: bitcoin %s, outcome %+v", vs, got["bitcoin"], out)
		}
	}
}

// TestEqualTimesHostileIntegration: ties across two batches of two writers
// (both orders end in one document, byte for byte); equal values written
// differently ("1.0", "1", 1, "-0", 0) are one price and change nothing;
// a tie in a large document (read in windows); and the script's own order of
// prices no client of ours sends, by exact value then by bytes.
func TestEqualTimesHostileIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	a := []*metricline.Metric{metricWith(t0, map[string]interface{}{"x_usd": 1.0, "y_usd": 5.0, "z_usd": decimal("3")})}
	b := []*metricline.Metric{metricWith(t0, map[string]interface{}{"x_usd": 2.0, "y_usd": decimal("3.0"), "z_usd": "3.00"})}
	docs := make([]string, 0, 2)
	for _, order := range [][][]*metricline.Metric{{a, b}, {b, a}} {
		do(t, c, "FLUSHALL")
		write(t, c, o, order[0]...)
		write(t, c, o, order[1]...)
		docs = append(docs, consistent(t, c, o))
	}
	if docs[0] != docs[1] || !strings.Contains(docs[0], `{"id":"x","price":"2"},{"id":"y","price":"5"},{"id":"z","price":"3"}`) {
		t.Fatalf("two orders, two documents:\n%s\n%s", docs[0], docs[1])
	}

	// Equal values of the same time: one price, the document untouched.
	do(t, c, "FLUSHALL")
	write(t, c, o, metricWith(t0, map[string]interface{}{"x_usd": decimal("1.0"), "zero_usd": 0.0}))
	_, before := readDoc(t, c, "q")
	for _, same := range []interface{}{decimal("1"), 1.0, int64(1), "1.000", decimal("1e0")} {
		for _, zero := range []interface{}{decimal("-0"), math.Copysign(0, -1), "-0.0", decimal("0.0"), int64(0)} {
			out := write(t, c, o, metricWith(t0, map[string]interface{}{"x_usd": same, "zero_usd": zero}))
			if _, after := readDoc(t, c, "q"); after != before || out.Refusals[Stale].Count != 0 {
				t.Fatalf("%v, %v: %s became %s (%+v)", same, zero, before, after, out)
			}
		}
	}

	// A large document decides alike.
	do(t, c, "FLUSHALL")
	fields := map[string]interface{}{}
	for i := 0; i < 2000; i++ {
		fields[fmt.Sprintf("filler-%04d_usd", i)] = 1.0
	}
	write(t, c, o, metricWith(t0, fields))
	write(t, c, o, metricWith(t0, map[string]interface{}{"filler-0100_usd": 3.0}))
	out := write(t, c, o, metricWith(t0, map[string]interface{}{"filler-0100_usd": 2.0, "filler-0200_usd": 2.0}))
	if out.Rebuilt != "" || out.Refusals[Stale].Count != 1 {
		t.Fatalf("outcome %+v", out)
	}
	if got := prices(must(readDoc(t, c, "q"))); got["filler-0100"] != "3" || got["filler-0200"] != "2" {
		t.Fatalf("filler-0100 = %s, filler-0200 = %s", got["filler-0100"], got["filler-0200"])
	}
	consistent(t, c, o)

	// The script's order: by exact value (a price taken over keeps digits
	// a double has not), then by bytes for equal values.
	keys := o.Keys()
	merge := func(price string) {
		t.Helper()
		if _, err := Script.Do(c, keys[0], keys[1], keys[2], keys[3], keys[4], `"usd"`, "0", "", "9",
			order(clock.UnixNano()), "", "", "", "0", "x", order(t0*1e9), price); err != nil {
			t.Fatalf("%s: %v", price, err)
		}
	}
	for _, pair := range [][2]string{
		{"2", "1"}, {"10", "9"}, {"1.5", "1.45"}, {"0.5", "0.45"}, {"100", "99.999"},
		{"123456789012345680", "123456789012345678"}, {"0.30000000000000004", "0.3"},
		{"0.000000000000000000012", "0.000000000000000000011"}, {"1.0", "1"}, {"1", "01"}, {"1", "0"},
	} {
		var got []string
		for _, seq := range [][2]string{{pair[0], pair[1]}, {pair[1], pair[0]}} {
			do(t, c, "FLUSHALL")
			merge(seq[0])
			merge(seq[1])
			got = append(got, prices(must(readDoc(t, c, "q")))["x"])
			consistent(t, c, o)
		}
		if got[0] != pair[0] || got[1] != pair[0] {
			t.Errorf("%s against %s: %q", pair[0], pair[1], got)
		}
	}
	// A negative price an older version stored loses to any price of its
	// time, and "-0" to "0".
	for _, stored := range []string{"-5", "-0"} {
		do(t, c, "FLUSHALL")
		merge("7")
		do(t, c, "HSET", keys[1], "x", fmt.Sprintf(`%s %d {"id":"x","price":%q}`, order(t0*1e9), t0, stored))
		merge("0")
		if got := prices(must(readDoc(t, c, "q")))["x"]; got != "0" {
			t.Errorf("stored %s, then 0: %s", stored, got)
		}
		consistent(t, c, o)
	}
}

// tieValues are prices that tie often: equal values written differently,
// zeros of both signs.
var tieValues = []interface{}{1.0, 2.0, decimal("2.0"), decimal("2"), "2", int64(2), 0.0, math.Copysign(0, -1),
	decimal("-0"), decimal("0.5"), 10.0, decimal("1e1"), "0.50"}

// interleavings returns every merge of a batches of one writer and b of
// the other, each in its own order: true is the first writer's next batch.
func interleavings(a, b int) [][]bool {
	if a == 0 && b == 0 {
		return [][]bool{nil}
	}
	var out [][]bool
	if a > 0 {
		for _, rest := range interleavings(a-1, b) {
			out = append(out, append([]bool{true}, rest...))
		}
	}
	if b > 0 {
		for _, rest := range interleavings(a, b-1) {
			out = append(out, append([]bool{false}, rest...))
		}
	}
	return out
}

// TestAnyInterleavingIntegration is the property: random batches of two
// writers, with many equal times and equal or tied prices; every
// interleaving of their batches (each writer on its own connection to a
// real redis-server, its metrics in a random order within each batch, and
// neighbouring batches sometimes coalesced first as the plugin does when
// it falls behind) ends in one document, byte for byte: the newest price
// of every coin, the higher of the same time. In a small document and a
// large one.
func TestAnyInterleavingIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	conns := [2]redis.Conn{srv.Conn(), srv.Conn()}
	c := conns[0]
	o := opts()
	coins := []string{"a", "b", "c", "d"}
	for _, indexed := range []bool{false, true} {
		// The starting state, restored before each interleaving.
		do(t, c, "FLUSHALL")
		if indexed {
			fields := map[string]interface{}{}
			for i := 0; i < 2000; i++ {
				fields[fmt.Sprintf("filler-%04d_usd", i)] = 1.0
			}
			write(t, c, o, metricWith(t0-100, fields))
		}
		start := map[string][]byte{}
		for _, k := range o.Keys() {
			if d, err := redis.Bytes(c.Do("DUMP", k)); err == nil {
				start[k] = d
			}
		}
		for seed := int64(1); seed <= 8; seed++ {
			r := rand.New(rand.NewSource(seed))
			var plans [2][][]*metricline.Metric
			for w := range plans {
				for i := 0; i < 3; i++ {
					var batch []*metricline.Metric
					for j := 0; j < 1+r.Intn(3); j++ {
						fields := map[string]interface{}{}
						for k := 0; k < 1+r.Intn(3); k++ {
							fields[coins[r.Intn(len(coins))]+"_usd"] = tieValues[r.Intn(len(tieValues))]
						}
						batch = append(batch, metricWith(t0+int64(r.Intn(2)), fields))
					}
					plans[w] = append(plans[w], batch)
				}
			}
			m := model{}
			for _, plan := range plans {
				for _, batch := range plan {
					for _, metric := range batch {
						for _, f := range metric.Fields {
							v, _ := f.Number()
							if f.Kind == metricline.String {
								v = mustFloat(string(f.Str))
							}
							m.add(strings.TrimSuffix(string(f.Key), "_usd"), metric.Time/1e9, v)
						}
					}
				}
			}
			var first string
			for n, il := range interleavings(3, 3) {
				do(t, c, "FLUSHALL")
				for k, d := range start {
					if _, err := c.Do("RESTORE", k, 0, d); err != nil {
						t.Fatal(err)
					}
				}
				var next [2]int
				var held *Batch
				heldBy := 0
				flush := func() {
					if held == nil {
						return
					}
					if _, err := held.Write(context.Background(), conns[heldBy]); err != nil {
						t.Fatal(err)
					}
					held = nil
				}
				for _, firstWriter := range il {
					w := 1
					if firstWriter {
						w = 0
					}
					batch := append([]*metricline.Metric(nil), plans[w][next[w]]...)
					next[w]++
					r.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
					b := NewBatch(o)
					for _, metric := range batch {
						if err := b.Add(metric); err != nil {
							t.Fatal(err)
						}
					}
					if held != nil && heldBy == w && r.Intn(2) == 0 {
						held.Absorb(b) // read behind the held batch: coalesced
						continue
					}
					flush()
					held, heldBy = b, w
				}
				flush()
				doc := consistent(t, c, o)
				if n == 0 {
					first = doc
					d := must(readDoc(t, c, "q"))
					check := document{Timestamp: d.Timestamp} // the test's coins, not the fillers
					for _, p := range d.Prices {
						if !strings.HasPrefix(p.ID, "filler-") {
							check.Prices = append(check.Prices, p)
						}
					}
					m.check(t, check)
				} else if doc != first {
					t.Fatalf("seed %d, indexed %v: interleaving %v ends in\n%s\nthe first in\n%s", seed, indexed, il, doc, first)
				}
			}
		}
	}
}
