package quote

import (
	"strconv"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricjson"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

func TestFormatPrice(t *testing.T) {
	cases := map[float64]string{
		1.2345678901234e-05: "0.000012345678901234",
		97234.12:            "97234.12",
		32184.0:             "32184",
		8.348339809175e-09:  "0.000000008348339809175",
		1e21:                "1000000000000000000000",
		0:                   "0",
	}
	for v, want := range cases {
		got := string(FormatPrice(nil, v))
		if got != want {
			t.Errorf("%v: got %q want %q", v, got, want)
		}
		if back, err := strconv.ParseFloat(got, 64); err != nil || back != v {
			t.Errorf("%q does not read back to %v", got, v)
		}
	}
}

func TestCoinIDAndDecimal(t *testing.T) {
	for key, want := range map[string]string{
		"fields_bitcoin_usd": "bitcoin", "bitcoin_usd": "bitcoin", "fields_shiba-inu_usd": "shiba-inu",
		"fields_usd": "", "_usd": "", "bitcoin_eur": "", "fields_bitcoin": "", "fields_fields_x_usd": "fields_x",
	} {
		if got := string(coinID([]byte(key), "fields_", "_usd")); got != want {
			t.Errorf("%q: got %q want %q", key, got, want)
		}
	}
	for s, want := range map[string]bool{
		"12.5": true, "-1": true, "+.5": true, "1e-7": true, "1.": true,
		"": false, "NaN": false, "Inf": false, "0x10": false, "1_000": false, "1e": false, ".": false,
		" 1": false, //nolint:gocritic // a leading space is a case under test
	} {
		if isDecimal([]byte(s)) != want {
			t.Errorf("isDecimal(%q) != %v", s, want)
		}
	}
}

func TestStateKeyShareTheSlot(t *testing.T) {
	if got := StateKeyFor("coingecko:rate:usd"); got != "{coingecko:rate:usd}:prices" {
		t.Fatal(got)
	}
	if got := StateKeyFor("{rates}:usd"); got != "{rates}:usd:prices" {
		t.Fatal(got)
	}
}

func TestMergeIsMonotonicPerCoinIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()

	write(t, c, o, metricWith(100, map[string]interface{}{"fields_bitcoin_usd": 10.0, "fields_ethereum_usd": 1.0}))
	// Older bitcoin, newer ethereum, a new coin, and fields that are no prices.
	res := write(t, c, o, metricWith(90, map[string]interface{}{"fields_bitcoin_usd": 9.0}),
		metricWith(110, map[string]interface{}{"fields_ethereum_usd": 1.5e-7, "fields_near_usd": "3.25",
			"fields_flag_usd": true, "fields_bad_usd": "NaN", "other": 1.0, "fields_int_usd": int64(7)}))
	if res.Refusals[Stale].Count != 1 || res.Refusals[Stale].Coin != "bitcoin" || res.Refusals[NotANumber].Count != 2 ||
		res.Written != 1 || res.Refused != 1 {
		t.Fatalf("outcome %+v: want bitcoin stale, flag and bad not numbers, one metric written, one refused", res)
	}
	consistent(t, c, o)
	d, raw := readDoc(t, c, "q")
	want := map[string]string{"bitcoin": "10", "ethereum": "0.00000015", "near": "3.25", "int": "7"}
	if got := prices(d); len(got) != len(want) || got["bitcoin"] != "10" || got["ethereum"] != want["ethereum"] || got["near"] != "3.25" || got["int"] != "7" {
		t.Fatalf("prices %v, want %v", got, want)
	}
	if d.Timestamp != 110 || d.Quote != "usd" {
		t.Fatalf("doc %s", raw)
	}
	if raw[:len(`{"timestamp":110,"quote":"usd","prices":[{"id":"bitcoin"`)] != `{"timestamp":110,"quote":"usd","prices":[{"id":"bitcoin"` {
		t.Fatalf("not compact or not sorted: %s", raw)
	}

	// An equal timestamp may replace.
	write(t, c, o, metricWith(100, map[string]interface{}{"fields_bitcoin_usd": 11.0}))
	if got := prices(must(readDoc(t, c, "q"))); got["bitcoin"] != "11" {
		t.Fatalf("equal timestamp did not replace: %v", got)
	}
	// A replay of everything changes nothing, and does not rewrite the key.
	_, before := readDoc(t, c, "q")
	res = write(t, c, o, metricWith(100, map[string]interface{}{"fields_bitcoin_usd": 11.0}),
		metricWith(90, map[string]interface{}{"fields_ethereum_usd": 2.0}))
	if _, after := readDoc(t, c, "q"); res.Refusals[Stale].Count != 1 || after != before {
		t.Fatalf("replay changed the document: %+v\n%s\n%s", res, before, after)
	}
}

func TestMergeSortsByBytesAndEscapesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	write(t, c, opts(), metricWith(1, map[string]interface{}{
		"avalanche2_usd": 1.0, "avalanche-2_usd": 2.0, "Zed_usd": 3.0, `we"ird\id_usd`: 4.0, "é_usd": 5.0,
	}))
	d, raw := readDoc(t, c, "q")
	ids := make([]string, 0, len(d.Prices))
	for _, p := range d.Prices {
		ids = append(ids, p.ID)
	}
	want := []string{"Zed", "avalanche-2", "avalanche2", `we"ird\id`, "é"}
	if len(ids) != len(want) {
		t.Fatalf("ids %q", ids)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("ids %q, want byte order %q (%s)", ids, want, raw)
		}
	}
}

func TestSeedsFromAnExistingDocumentIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	// What the article's shell script left: pretty-printed, no state hash.
	old := `{
  "timestamp": 1795552004,
  "quote": "usd",
  "prices": [
    {"id": "bitcoin", "price": "97234.12"},
    {"id": "ethereum", "price": "3391.45"}
  ]
}`
	if _, err := c.Do("SET", "q", old); err != nil {
		t.Fatal(err)
	}
	res := write(t, c, opts(), metricWith(1795552003, map[string]interface{}{"fields_bitcoin_usd": 1.0}),
		metricWith(1795552010, map[string]interface{}{"fields_solana_usd": 150.0}))
	if res.Refusals[Stale].Count != 1 || res.Written != 1 {
		t.Fatalf("result %+v: the older bitcoin must lose against the stored document", res)
	}
	d, _ := readDoc(t, c, "q")
	got := prices(d)
	if got["bitcoin"] != "97234.12" || got["ethereum"] != "3391.45" || got["solana"] != "150" || d.Timestamp != 1795552010 {
		t.Fatalf("document %+v", d)
	}
}

func TestExpireAndPublishIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	sub := redis.PubSubConn{Conn: srv.Conn()}
	if err := sub.Subscribe("rates"); err != nil {
		t.Fatal(err)
	}
	if _, ok := sub.Receive().(redis.Subscription); !ok {
		t.Fatal("no subscription confirmation")
	}
	o := opts()
	o.Expire, o.Publish = time.Minute, "rates"
	write(t, c, o, metricWith(5, map[string]interface{}{"x_usd": 1.0}))
	for _, k := range []string{o.Keys()[0], o.Keys()[1], o.Keys()[4]} { // no indexes for a small document
		ttl, err := redis.Int(c.Do("PTTL", k))
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > 60000 {
			t.Fatalf("PTTL %s = %d", k, ttl)
		}
	}
	msg, ok := sub.Receive().(redis.Message)
	if !ok {
		t.Fatal("no published document")
	}
	if _, raw := readDoc(t, c, "q"); string(msg.Data) != raw {
		t.Fatalf("published %s, stored %s", msg.Data, raw)
	}
}

func TestBatchCoalescesAndAbsorbs(t *testing.T) {
	o := opts()
	a, b := NewBatch(o), NewBatch(o)
	add(t, a, metricWith(10, map[string]interface{}{"x_usd": 1.0, "y_usd": 1.0}))
	add(t, a, metricWith(5, map[string]interface{}{"x_usd": 0.5}))
	add(t, b, metricWith(10, map[string]interface{}{"x_usd": 2.0}))
	add(t, b, metricWith(3, map[string]interface{}{"y_usd": 3.0}))
	a.Absorb(b)
	if a.Metrics() != 4 || a.Coins() != 2 || b.Metrics() != 0 || b.Coins() != 0 {
		t.Fatalf("metrics %d coins %d / %d %d", a.Metrics(), a.Coins(), b.Metrics(), b.Coins())
	}
	if x := a.coins["x"]; x.float() != 2.0 {
		t.Fatalf("x = %v: the later batch wins on an equal time", x.float())
	}
	if y := a.coins["y"]; y.float() != 1.0 {
		t.Fatalf("y = %v: an older price must not win", y.float())
	}
	if err := a.Add(&metricline.Metric{Time: -1}); err == nil {
		t.Fatal("a time before 1970 must be refused")
	}
}

func BenchmarkBatchAdd(b *testing.B) {
	d := metricjson.NewJSON(0, "")
	d.LazyNumbers = true
	line := []byte(`{"fields":{"fields_ripple_usd":189.354348,"fields_decentraland_usd":6.566662934148e-07,"fields_shiba-inu_usd":96417.34,` +
		`"fields_ethereum_usd":1.073639508435e-08,"fields_binancecoin_usd":380.19386,"fields_avalanche-2_usd":497.797189,` +
		`"fields_chainlink_usd":4.329439511155e-09,"fields_near_usd":12900.03,"fields_cardano_usd":806.070067,"fields_solana_usd":2.518797832928e-07},` +
		`"name":"kafka_consumer","tags":{"topic_currency_rate":"currency.rate"},"timestamp":1795553000}`)
	batch := NewBatch(opts())
	add := func(m *metricline.Metric) {
		if err := batch.Add(m); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := d.Decode(line, add); err != nil {
			b.Fatal(err)
		}
		if i%10000 == 0 {
			batch.Reset()
		}
	}
}
