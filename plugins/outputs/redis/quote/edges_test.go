package quote

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricjson"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// decodeAll decodes lines as redis-output does (numbers left as text) and
// adds every metric to a new batch.
func decodeAll(t *testing.T, o *Options, lines ...string) *Batch {
	t.Helper()
	j := metricjson.NewJSON(0, "")
	j.FloatNumbers, j.LazyNumbers = true, true
	lp, err := lineprotocol.NewInflux(0)
	if err != nil {
		t.Fatal(err)
	}
	lp.LazyNumbers = true
	d := &metricline.Detect{JSON: j, Influx: lp}
	b := NewBatch(o)
	for _, l := range lines {
		if err := d.Decode([]byte(l), func(m *metricline.Metric) {
			if err := b.Add(m); err != nil {
				t.Fatal(err)
			}
		}); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
	return b
}

// TestNegativeAndZeroPricesIntegration is issue 19's reproduction: a
// negative price was stored, and zero as "-0". Now a negative price is
// refused with its own reason (a W! naming a coin, counted apart), and
// every zero is written "0": from JSON and line protocol, as a number and
// as a string.
func TestNegativeAndZeroPricesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	b := decodeAll(t, o,
		`{"fields":{"fields_a_usd":-0,"fields_b_usd":-0.0,"fields_c_usd":"-0","fields_d_usd":"-0.0","fields_e_usd":-0e5,"fields_neg_usd":-1.5},`+
			`"name":"kafka_consumer","tags":{},"timestamp":1795552004}`,
		`kafka_consumer fields_f_usd=-0,fields_g_usd=-0.0,fields_h_usd="-0",fields_i_usd=-0i,fields_j_usd=-0e3,fields_neg2_usd=-2i,`+
			`fields_neg3_usd="-3e-5" 1795552004000000000`,
		`{"fields":{"fields_neg4_usd":-97234.12},"name":"kafka_consumer","tags":{},"timestamp":1795552004}`,
	)
	out, err := b.Write(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Refusals[Negative].Count != 4 || out.Refusals[Negative].Coin != "neg" || out.Written != 2 || out.Refused != 1 ||
		!warned(out, `key "q": refused 4 prices: negative, and no price is below zero (e.g. coin "neg" = -1.5 at 2026-11-24T20:26:44Z)`) {
		t.Fatalf("outcome %+v", out)
	}
	_, raw := readDoc(t, c, "q")
	want := `{"timestamp":1795552004,"quote":"usd","prices":[` +
		`{"id":"a","price":"0"},{"id":"b","price":"0"},{"id":"c","price":"0"},{"id":"d","price":"0"},{"id":"e","price":"0"},` +
		`{"id":"f","price":"0"},{"id":"g","price":"0"},{"id":"h","price":"0"},{"id":"i","price":"0"},{"id":"j","price":"0"}]}`
	if raw != want {
		t.Fatalf("document\n%s\nwant\n%s", raw, want)
	}
	consistent(t, c, o)
	if got := string(FormatPrice(nil, math.Copysign(0, -1))); got != "0" {
		t.Fatalf("FormatPrice(-0) = %q", got)
	}
}

// TestNegativeAndZeroPricesHostileIntegration: a flush of negative prices
// only is reported all the same; a negative price newer than the stored
// one leaves the stored one; values at the edge (-0 with an exponent, the
// smallest negative normal, a tiny negative below the normal range); a
// document taken over with a negative price and a "-0".
func TestNegativeAndZeroPricesHostileIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	write(t, c, o, metricWith(t0, map[string]interface{}{"bitcoin_usd": 5.0}))
	b := NewBatch(o)
	for _, m := range []*metricline.Metric{
		metricWith(t0+10, map[string]interface{}{"bitcoin_usd": -5.0}),
		metricWith(t0+10, map[string]interface{}{"bitcoin_usd": decimal("-2.2250738585072014e-308")}),
		metricWith(t0+10, map[string]interface{}{"bitcoin_usd": int64(math.MinInt64)}),
		metricWith(t0+10, map[string]interface{}{"bitcoin_usd": "-1e-400"}),
	} {
		if err := b.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.Write(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Updates != 0 || out.Refused != 4 || out.Refusals[Negative].Count != 3 || out.Refusals[OutOfRange].Count != 1 ||
		!warned(out, `refused 3 prices: negative`) {
		t.Fatalf("outcome %+v", out)
	}
	if got := prices(must(readDoc(t, c, "q"))); got["bitcoin"] != "5" {
		t.Fatalf("bitcoin = %s", got["bitcoin"])
	}
	// Zeros with exponents and signs, lazy and not.
	out = write(t, c, o, metricWith(t0+20, map[string]interface{}{"a_usd": decimal("-0e-999"), "b_usd": decimal("-0.000"), "c_usd": "-0e5", "d_usd": "+0"}))
	if out.Written != 1 || out.Refused != 0 {
		t.Fatalf("outcome %+v", out)
	}
	got := prices(must(readDoc(t, c, "q")))
	for _, id := range []string{"a", "b", "c", "d"} {
		if got[id] != "0" {
			t.Fatalf("%s = %q", id, got[id])
		}
	}
	consistent(t, c, o)

	// A client that would send a negative price to the script is refused
	// before the call (checkArgs).
	keys := o.Keys()
	if err := checkArgs([]interface{}{keys[0], keys[1], keys[2], keys[3], keys[4], `"usd"`, "0", "", "9",
		order(clock.UnixNano()), "", "", "", "0", "bitcoin", order((t0 + 30) * 1e9), "-1"}); err == nil ||
		!strings.Contains(err.Error(), "bad argument 12 (coin of the batch)") {
		t.Fatalf("a negative price for the script: %v", err)
	}

	// A document taken over: its negative price dropped with a line, its
	// "-0" kept as "0".
	do(t, c, "FLUSHALL")
	do(t, c, "SET", "q", `{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"-97234.12"},{"id":"nil","price":"-0"},`+
		`{"id":"ok","price":"1"}]}`)
	out = write(t, c, o, metricWith(t0+10, map[string]interface{}{"solana_usd": 1.0}))
	if !warned(out, `coin "bitcoin": price "-97234.12" is negative, and no price is below zero: dropped`) {
		t.Fatalf("outcome %q", out.Warnings)
	}
	if got := prices(must(readDoc(t, c, "q"))); got["bitcoin"] != "" || got["nil"] != "0" || got["ok"] != "1" || len(got) != 3 {
		t.Fatalf("prices %v", got)
	}
	consistent(t, c, o)
}

// TestGarbageInTheMetaIntegration is issue 19's reproduction: garbage in
// <state_key>:meta was repaired, and logged as the first write with this
// version's layout (an info line). Now the line says it was repaired.
// Hostile: the meta of another type, with junk fields only, with a good v
// and the rest garbage; and the real first write with this layout (an
// upgrade from the first one, no meta at all) still says so.
func TestGarbageInTheMetaIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	meta := o.Keys()[4]
	for name, poison := range map[string][][]interface{}{
		"v garbage":       {{"HSET", meta, "v", "garbage"}},
		"another type":    {{"DEL", meta}, {"SET", meta, "x"}},
		"junk fields":     {{"DEL", meta}, {"HSET", meta, "junk", "x"}},
		"the rest junk":   {{"HSET", meta, "head", "x", "len", "y", "n", "z"}},
		"indexed garbage": {{"HSET", meta, "v", "3"}},
	} {
		t.Run(name, func(t *testing.T) {
			do(t, c, "FLUSHALL")
			fields := map[string]interface{}{"bitcoin_usd": 1.0}
			if name == "indexed garbage" {
				for i := 0; i < 2000; i++ {
					fields[fmt.Sprintf("filler-%04d_usd", i)] = 1.0
				}
			}
			write(t, c, o, metricWith(t0, fields))
			if ix, err := redis.String(c.Do("HGET", meta, "ix")); err != nil || ix != "1" {
				t.Fatalf("layout %q: %v", ix, err)
			}
			for _, cmd := range poison {
				if _, err := c.Do(cmd[0].(string), cmd[1:]...); err != nil {
					t.Fatal(err)
				}
			}
			out := write(t, c, o, metricWith(t0+1, map[string]interface{}{"ethereum_usd": 2.0}))
			if out.Rebuilt != "meta" || informed(out, "first write") ||
				!warned(out, `the metadata "{q}:prices:meta" beside the state could not be read`, "repaired") {
				t.Fatalf("outcome %+v", out)
			}
			consistent(t, c, o)
			if got := prices(must(readDoc(t, c, "q"))); got["bitcoin"] != "1" || got["ethereum"] != "2" {
				t.Fatalf("prices %v", got)
			}
			if out := write(t, c, o, metricWith(t0+2, map[string]interface{}{"ethereum_usd": 3.0})); out.Rebuilt != "" {
				t.Fatalf("still rebuilding: %+v", out)
			}
		})
	}
	t.Run("no meta at all", func(t *testing.T) {
		do(t, c, "FLUSHALL")
		write(t, c, o, metricWith(t0, map[string]interface{}{"bitcoin_usd": 1.0}))
		do(t, c, "DEL", meta)
		out := write(t, c, o, metricWith(t0+1, map[string]interface{}{"ethereum_usd": 2.0}))
		if out.Rebuilt != "new" || !informed(out, "first write with this version's layout") || len(out.Warnings) != 0 {
			t.Fatalf("outcome %+v", out)
		}
		consistent(t, c, o)
	})
}

// TestTakeoverQuoteCaseIntegration is issue 19's reproduction: a takeover
// of a document quoting "USD" dropped every price, as if it quoted another
// currency. A currency code names one currency in either case: its prices
// are taken, the line says so, and the document says "usd" from then on.
// Hostile: what only looks alike ("uſd", whose ſ Unicode folds to s; a
// trailing space; full-width letters) and other currencies are refused.
func TestTakeoverQuoteCaseIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	doc := func(q string) string {
		return `{"timestamp":1795552004,"quote":` + q + `,"prices":[{"id":"bitcoin","price":"97234.12"},{"id":"ethereum","price":"3391.45"}]}`
	}
	for _, q := range []string{`"USD"`, `"Usd"`, `"uSd"`} {
		do(t, c, "FLUSHALL")
		do(t, c, "SET", "q", doc(q))
		out := write(t, c, o, metricWith(t0+10, map[string]interface{}{"solana_usd": 150.0}))
		if !informed(out, "took over the document there", "2 prices kept exactly",
			`(it quoted `+q+`, the same currency as quote "usd", which it says from now on)`) {
			t.Fatalf("%s: outcome %+v", q, out)
		}
		d := must(readDoc(t, c, "q"))
		if got := prices(d); d.Quote != "usd" || got["bitcoin"] != "97234.12" || got["ethereum"] != "3391.45" || got["solana"] != "150" {
			t.Fatalf("%s: document %+v", q, d)
		}
		consistent(t, c, o)
	}
	for _, q := range []string{`"uſd"`, `"USD "`, `"ＵＳＤ"`, `"eur"`, `"US"`, `""`, `1`} {
		do(t, c, "FLUSHALL")
		do(t, c, "SET", "q", doc(q))
		out := write(t, c, o, metricWith(t0+10, map[string]interface{}{"solana_usd": 150.0}))
		if !warned(out, "the document there quotes "+q+`, not "usd": it is replaced and none of its prices is taken`) {
			t.Fatalf("%s: outcome %+v", q, out)
		}
		if got := prices(must(readDoc(t, c, "q"))); len(got) != 1 {
			t.Fatalf("%s: prices %v", q, got)
		}
		consistent(t, c, o)
	}
}

// TestCoinIDNotUTF8Integration: line protocol carries a field key that is
// not UTF-8; the document's JSON cannot, and the script refuses a call
// that holds one, whole. Such a price is refused alone (a W! naming it,
// counted), the others of the same metrics written: before, the batch
// was refused at every retry and no price reached the document again.
func TestCoinIDNotUTF8Integration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	b := decodeAll(t, o,
		"kafka_consumer fields_\xff\xfe_usd=1.5,fields_ok_usd=2 1795552004000000000",
		"kafka_consumer fields_ok_usd=3,fields_b\xc3_usd=4 1795552005000000000",
	)
	out, err := b.Write(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Refusals[BadCoinID].Count != 2 || out.Refusals[BadCoinID].Coin != "\xff\xfe" ||
		!warned(out, `key "q": refused 2 prices: the coin id is not valid UTF-8, which the document's JSON cannot hold (e.g. coin "\xff\xfe" = 1.5 at `) {
		t.Fatalf("outcome %+v", out)
	}
	doc, _ := readDoc(t, c, "q")
	if len(doc.Prices) != 1 || doc.Prices[0].ID != "ok" || doc.Prices[0].Price != "3" {
		t.Fatalf("document %+v", doc)
	}
	consistent(t, c, o)

	// Hostile: a batch of bad ids alone writes nothing and fails nothing,
	// and the next good price goes through.
	b = decodeAll(t, o, "kafka_consumer fields_\xff_usd=9 1795552006000000000")
	if out, err = b.Write(context.Background(), c); err != nil || out.Refusals[BadCoinID].Count != 1 {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	b = decodeAll(t, o, "kafka_consumer fields_ok_usd=5 1795552007000000000")
	if _, err = b.Write(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if doc, _ = readDoc(t, c, "q"); len(doc.Prices) != 1 || doc.Prices[0].Price != "5" {
		t.Fatalf("document %+v", doc)
	}
}
