package quote

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// model is what the document must hold: per coin the newest price and
// its time, as the rules say, computed without Redis.
type model map[string]struct {
	t     int64
	price string
}

func (m model) add(id string, t int64, v float64) {
	if old, ok := m[id]; ok && (t < old.t || t == old.t && v < mustFloat(old.price)) {
		return // older, or as old and lower
	}
	m[id] = struct {
		t     int64
		price string
	}{t, string(FormatPrice(nil, v))}
}

func (m model) check(t *testing.T, d document) {
	t.Helper()
	got := prices(d)
	if len(got) != len(m) {
		t.Fatalf("document has %d coins, want %d", len(got), len(m))
	}
	newest := int64(0)
	for id, want := range m {
		if got[id] != want.price {
			t.Fatalf("coin %q: %q, want %q", id, got[id], want.price)
		}
		newest = max(newest, want.t)
	}
	if d.Timestamp != newest {
		t.Fatalf("timestamp %d, want %d", d.Timestamp, newest)
	}
}

func mustFloat(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return v
}

// randomID gives ids that exercise byte order and escaping: shared
// prefixes, upper case, quotes, backslashes, control characters, UTF-8.
func randomID(r *rand.Rand, n int) string {
	parts := []string{"a", "b", "bit", "coin", "Z", "-", "_", "2", `"`, `\`, "\x01", "é", "日本", "/", "x y"}
	var b strings.Builder
	for i := 0; i < 1+r.Intn(4); i++ {
		b.WriteString(parts[r.Intn(len(parts))])
	}
	b.WriteString(strconv.Itoa(r.Intn(n)))
	return b.String()
}

// TestSpliceMatchesTheStateIntegration writes random batches (new coins, newer,
// older and equal prices) and checks after every merge that the document
// is byte for byte what the state says and holds what the rules say.
func TestSpliceMatchesTheStateIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	r := rand.New(rand.NewSource(1))
	o := opts()
	m := model{}
	for round := 0; round < 300; round++ {
		b := NewBatch(o)
		for i := 0; i < 1+r.Intn(6); i++ {
			id := randomID(r, 60)
			ts := int64(1795552000 + r.Intn(400))
			v := float64(r.Intn(1e6)) / 1000
			if err := b.Add(metricWith(ts, map[string]interface{}{id + "_usd": v})); err != nil {
				t.Fatal(err)
			}
			m.add(id, ts, v)
		}
		out, err := b.Write(context.Background(), c)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if round > 0 && out.Rebuilt != "" {
			t.Fatalf("round %d: the document was rebuilt (%s) instead of spliced", round, out.Rebuilt)
		}
		consistent(t, c, o)
		m.check(t, must(readDoc(t, c, "q")))
	}
}

// TestSpliceUnderInterferenceIntegration is the hostile variant: between merges
// another program changes the document, the state or the indexes. Every
// merge must still leave the document equal to what the state says, and
// never fail.
func TestSpliceUnderInterferenceIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	r := rand.New(rand.NewSource(2))
	o := opts()
	keys := o.Keys()
	hostile := []func(){
		func() { tamper(t, c, "SET", keys[0], `{"timestamp":1,"quote":"usd","prices":[]}`) },
		func() { tamper(t, c, "APPEND", keys[0], " ") },
		func() { tamper(t, c, "HSET", keys[1], "junk", "x") },
		func() { tamper(t, c, "HSET", keys[1], randomID(r, 30), "00000000000000000001 0 {}") },
		func() { tamper(t, c, "DEL", keys[2]) },
		func() { tamper(t, c, "ZADD", keys[2], 0, "ghost") },
		func() { tamper(t, c, "ZPOPMAX", keys[3]) },
		func() { tamper(t, c, "ZADD", keys[3], 0, "99999999999999999999 ghost") },
		func() { tamper(t, c, "HSET", keys[4], "n", "7") },
		func() { tamper(t, c, "DEL", keys[4]) },
		func() { tamper(t, c, "SET", keys[2], "not a zset") },
		func() {
			// A same-length forgery: only the SHA1 tells.
			doc, err := redis.Bytes(c.Do("GET", keys[0]))
			if err != nil && !errors.Is(err, redis.ErrNil) { // ErrNil: no document to forge
				t.Fatal(err)
			}
			if i := strings.LastIndex(string(doc), `"price":"`); i >= 0 {
				doc[i+9] ^= 1
				tamper(t, c, "SET", keys[0], doc)
			}
		},
	}
	for round := 0; round < 200; round++ {
		b := NewBatch(o)
		for i := 0; i < 1+r.Intn(4); i++ {
			id := randomID(r, 30)
			ts := int64(1795552000 + r.Intn(400))
			if err := b.Add(metricWith(ts, map[string]interface{}{id + "_usd": float64(r.Intn(1e6)) / 100})); err != nil {
				t.Fatal(err)
			}
		}
		if r.Intn(3) == 0 {
			hostile[r.Intn(len(hostile))]()
		}
		if _, err := b.Write(context.Background(), c); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		consistent(t, c, o)
	}
}

// TestLargeDocumentMergeIntegration: a document of 20,000 coins takes one-coin
// updates, new coins, removals by age and a batch of a thousand; the
// document stays what the state says, and the updates are splices.
func TestLargeDocumentMergeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	const n = 20000
	m := model{}
	b := NewBatch(o)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("coin-%05d", i*2)
		v := 1 + float64(i)/7
		add(t, b, metricWith(1795552000, map[string]interface{}{id + "_usd": v}))
		m.add(id, 1795552000, v)
	}
	if _, err := b.Write(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	consistent(t, c, o)
	r := rand.New(rand.NewSource(3))
	for round := 0; round < 30; round++ {
		b := NewBatch(o)
		k := 1
		if round%10 == 9 {
			k = 1000
		}
		for i := 0; i < k; i++ {
			id := fmt.Sprintf("coin-%05d", r.Intn(2*n+10)) // odd ids are new, past 2n as well
			ts := int64(1795552001 + round)
			v := float64(r.Intn(1e9)) / 1e6
			add(t, b, metricWith(ts, map[string]interface{}{id + "_usd": v}))
			m.add(id, ts, v)
		}
		out, err := b.Write(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if out.Rebuilt != "" {
			t.Fatalf("round %d rebuilt the document (%s)", round, out.Rebuilt)
		}
		if round%5 == 0 {
			consistent(t, c, o)
		}
	}
	consistent(t, c, o)
	m.check(t, must(readDoc(t, c, "q")))
}

// TestUpgradeFromTheFirstLayoutIntegration: state and document written by the
// previous script (testdata/merge-v1.lua: the hash alone, the document
// rebuilt at every merge) are taken in place: the first merge builds the
// indexes from the state, the next ones splice.
func TestUpgradeFromTheFirstLayoutIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	v1src, err := os.ReadFile("testdata/merge-v1.lua")
	if err != nil {
		t.Fatal(err)
	}
	v1 := redis.NewScript(2, string(v1src))
	entry := func(id string, ts int64, price string) string {
		return fmt.Sprintf("%020d %d {\"id\":%s,\"price\":%q}", ts*1e9, ts, appendJSONString(nil, id), price)
	}
	if _, err := v1.Do(c, "q", "{q}:prices", `"usd"`, 0, "", 9,
		"bitcoin", entry("bitcoin", 1795552004, "97234.12"), "ethereum", entry("ethereum", 1795552000, "3391.45")); err != nil {
		t.Fatal(err)
	}
	before := render(t, c, opts())
	if _, raw := readDoc(t, c, "q"); raw != before {
		t.Fatalf("v1 wrote %s, the state says %s", raw, before)
	}
	out := write(t, c, opts(), metricWith(1795552001, map[string]interface{}{"ethereum_usd": 3400.0, "bitcoin_usd": 1.0}))
	if out.Rebuilt != "new" || out.Refusals[Stale].Count != 1 || len(out.Infos) != 2 { // the stale price and the upgrade
		t.Fatalf("first merge: %+v", out)
	}
	consistent(t, c, opts())
	if got := prices(must(readDoc(t, c, "q"))); got["bitcoin"] != "97234.12" || got["ethereum"] != "3400" {
		t.Fatalf("prices %v", got)
	}
	out = write(t, c, opts(), metricWith(1795552010, map[string]interface{}{"solana_usd": 150.0}))
	if out.Rebuilt != "" {
		t.Fatalf("second merge rebuilt (%s)", out.Rebuilt)
	}
	consistent(t, c, opts())

	// Hostile: the v1 script still runs beside us (a rolling upgrade).
	// Its writes are seen and the document rebuilt from the state.
	if _, err := v1.Do(c, "q", "{q}:prices", `"usd"`, 0, "", 9, "cardano", entry("cardano", 1795552020, "0.5")); err != nil {
		t.Fatal(err)
	}
	out = write(t, c, opts(), metricWith(1795552030, map[string]interface{}{"near_usd": 3.0}))
	if out.Rebuilt == "" || !warned(out, "rebuilt from") {
		t.Fatalf("a v1 write went unnoticed: %+v", out)
	}
	got := prices(must(readDoc(t, c, "q")))
	if got["cardano"] != "0.5" || got["near"] != "3" || len(got) != 5 {
		t.Fatalf("prices %v", got)
	}
	consistent(t, c, opts())
}

// TestTwoWritersKeepTheNewestIntegration: two batches writing the same coins at once,
// on two connections, in random time order: every coin ends at its newest
// price and the document is what the state says.
func TestTwoWritersKeepTheNewestIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	o := opts()
	m := model{}
	type write struct {
		id string
		t  int64
		v  float64
	}
	r := rand.New(rand.NewSource(4))
	var plans [2][][]write
	for w := range plans {
		for round := 0; round < 100; round++ {
			var batch []write
			for i := 0; i < 1+r.Intn(5); i++ {
				x := write{fmt.Sprintf("c%d", r.Intn(40)), int64(1795552000 + r.Intn(1000)), float64(r.Intn(1e6))}
				batch = append(batch, x)
				m.add(x.id, x.t, x.v)
			}
			plans[w] = append(plans[w], batch)
		}
	}
	// Equal times of a coin (about one write in three here) are decided
	// by the price, so only one answer is right whatever the interleaving.
	errs := make(chan error, 2)
	for w := range plans {
		go func(plan [][]write) {
			c := srv.Conn()
			for _, batch := range plan {
				b := NewBatch(o)
				for _, x := range batch {
					if err := b.Add(metricWith(x.t, map[string]interface{}{x.id + "_usd": x.v})); err != nil {
						errs <- err
						return
					}
				}
				if _, err := b.Write(context.Background(), c); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(plans[w])
	}
	for range plans {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	c := srv.Conn()
	consistent(t, c, o)
	m.check(t, must(readDoc(t, c, "q")))
}

// TestAgeOutIntegration drops coins with no price for age_out, measured from the
// newest price (a replay of old data ages nothing it should not).
func TestAgeOutIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	o.AgeOut = time.Hour
	write(t, c, o, metricWith(1795540000, map[string]interface{}{"stray_usd": 1.0, "bitcoin_usd": 2.0}))
	// Half an hour later: nothing ages.
	out := write(t, c, o, metricWith(1795541800, map[string]interface{}{"bitcoin_usd": 3.0}))
	if out.Aged.Count != 0 {
		t.Fatalf("aged %+v", out.Aged)
	}
	// An hour and a second after stray's last price: stray goes.
	out = write(t, c, o, metricWith(1795543601, map[string]interface{}{"bitcoin_usd": 4.0}))
	if out.Aged.Count != 1 || out.Aged.Coin != "stray" || !informed(out, `dropped 1 coin with no price for age_out 1h0m0s (e.g. coin "stray", last `+
		`price at 2026-11-24T17:06:40Z)`) {
		t.Fatalf("outcome %+v", out)
	}
	if out.Rebuilt != "" {
		t.Fatalf("rebuilt (%s)", out.Rebuilt)
	}
	consistent(t, c, o)
	if got := prices(must(readDoc(t, c, "q"))); len(got) != 1 || got["bitcoin"] != "4" {
		t.Fatalf("prices %v", got)
	}
	// A replay of stray's old price ages out at once: it never reaches
	// the document, and the metric is not counted as written.
	out = write(t, c, o, metricWith(1795540000, map[string]interface{}{"stray_usd": 1.0}))
	if out.Aged.Count != 1 || out.Written != 0 || out.Refused != 1 {
		t.Fatalf("replay: %+v", out)
	}
	consistent(t, c, o)
}

// TestAgeOutIgnoresTheFutureIntegration is the hostile variant: a price dated far
// ahead (max_future off) must not age out every other coin; the age is
// measured from the clock when that is earlier than the newest price.
func TestAgeOutIgnoresTheFutureIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	o.AgeOut = time.Hour
	now := clock.Unix()
	write(t, c, o, metricWith(now-60, map[string]interface{}{"bitcoin_usd": 1.0, "ethereum_usd": 2.0}))
	out := write(t, c, o, metricWith(9_000_000_000, map[string]interface{}{"bogus_usd": 3.0}))
	if out.Aged.Count != 0 {
		t.Fatalf("a future price aged out %+v", out.Aged)
	}
	if got := prices(must(readDoc(t, c, "q"))); len(got) != 3 {
		t.Fatalf("prices %v", got)
	}
	consistent(t, c, o)
}

// TestFutureStoredPriceDoesNotBlockIntegration: a price stored from the year 2262 (an
// older version took it) no longer freezes the coin once max_future is on.
func TestFutureStoredPriceDoesNotBlockIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	write(t, c, o, metricWith(9_000_000_000, map[string]interface{}{"bitcoin_usd": 1.0}))
	o.MaxFuture = 5 * time.Minute
	out := write(t, c, o, metricWith(1795552004, map[string]interface{}{"bitcoin_usd": 2.0}))
	if !warned(out, `coin "bitcoin": its stored price is dated 2255-03-14`, "replaced by an older one") || out.Written != 1 {
		t.Fatalf("outcome %+v", out)
	}
	d := must(readDoc(t, c, "q"))
	if prices(d)["bitcoin"] != "2" || d.Timestamp != 1795552004 {
		t.Fatalf("document %+v", d)
	}
	consistent(t, c, o)
}

func TestMetricsAreAccountedOnceIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	write(t, c, o, metricWith(200, map[string]interface{}{"a_usd": 1.0}))
	b := NewBatch(o)
	for _, m := range []*metricline.Metric{
		metricWith(300, map[string]interface{}{"a_usd": 2.0, "b_usd": 2.0}), // a superseded below, b written
		metricWith(400, map[string]interface{}{"a_usd": 3.0}),               // written
		metricWith(100, map[string]interface{}{"c_usd": "n/a"}),             // refused
		metricWith(100, map[string]interface{}{"cpu": 1.0}),                 // no price
		metricWith(350, map[string]interface{}{"a_usd": 9.0}),               // older than the held a: superseded
	} {
		add(t, b, m)
	}
	out, err := b.Write(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Written != 2 || out.Superseded != 1 || out.Refused != 1 || out.NoPrice != 1 {
		t.Fatalf("outcome %+v", out)
	}
	// All stale: nothing written, and the metrics say so.
	b.Reset()
	add(t, b, metricWith(100, map[string]interface{}{"a_usd": 2.0}))
	add(t, b, metricWith(150, map[string]interface{}{"a_usd": 2.5}))
	out, err = b.Write(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Written != 0 || out.Superseded != 1 || out.Refused != 1 || out.Refusals[Stale].Count != 1 {
		t.Fatalf("outcome %+v", out)
	}
}

// TestUpgradeFromThePreviousScriptIntegration: what an earlier version of
// this script (testdata/merge-v2.lua: equal times decided by arrival,
// negative prices and "-0" taken) wrote is spliced into when large; when
// small, its lean layout is rebuilt into this one at the first merge (an
// info line, no warning). Its "-0" and its negative prices lose to any
// price of their time, and a newer price replaces them. Hostile: the
// previous script still runs beside this one (a rolling upgrade): every
// merge of either leaves a document this one can splice into.
func TestUpgradeFromThePreviousScriptIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	src, err := os.ReadFile("testdata/merge-v2.lua")
	if err != nil {
		t.Fatal(err)
	}
	prev := redis.NewScript(5, string(src))
	o := opts()
	keys := o.Keys()
	old := func(_ int64, triples ...string) {
		t.Helper()
		args := []interface{}{keys[0], keys[1], keys[2], keys[3], keys[4], `"usd"`, "0", "", "9", order(clock.UnixNano()), "", "", "", "0"}
		for _, s := range triples {
			args = append(args, s)
		}
		if _, err := prev.Do(c, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, large := range []bool{false, true} {
		do(t, c, "FLUSHALL")
		var seed []string
		if large {
			for i := 0; i < 2000; i++ {
				seed = append(seed, fmt.Sprintf("filler-%04d", i), order(t0*1e9), "1")
			}
		}
		seed = append(seed, "a", order(t0*1e9), "-0", "b", order(t0*1e9), "-5", "c", order(t0*1e9), "3")
		sortTriples(seed)
		old(t0, seed...)
		out := write(t, c, o, metricWith(t0, map[string]interface{}{"a_usd": 0.0, "b_usd": 0.0, "c_usd": 2.0}))
		if want := map[bool]string{false: "new", true: ""}[large]; out.Rebuilt != want || len(out.Warnings) != 0 || out.Refusals[Stale].Count != 1 {
			t.Fatalf("large %v: %+v", large, out)
		}
		consistent(t, c, o)
		got := prices(must(readDoc(t, c, "q")))
		if got["a"] != "0" || got["b"] != "0" || got["c"] != "3" {
			t.Fatalf("large %v: prices %v", large, got)
		}
		// Both scripts take turns.
		for i := int64(1); i <= 5; i++ {
			old(t0+i, "a", order((t0+i)*1e9), strconv.FormatInt(i, 10))
			out := write(t, c, o, metricWith(t0+i, map[string]interface{}{"b_usd": float64(i)}))
			if out.Rebuilt != "" {
				t.Fatalf("large %v, turn %d: rebuilt (%s)", large, i, out.Rebuilt)
			}
			consistent(t, c, o)
		}
		if got := prices(must(readDoc(t, c, "q"))); got["a"] != "5" || got["b"] != "5" {
			t.Fatalf("large %v: prices %v", large, got)
		}
	}
}

// sortTriples sorts (id, order, price) triples by id, as the script wants.
func sortTriples(s []string) {
	type triple [3]string
	ts := make([]triple, 0, len(s)/3)
	for i := 0; i+2 < len(s); i += 3 {
		ts = append(ts, triple{s[i], s[i+1], s[i+2]})
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i][0] < ts[j][0] })
	for i, x := range ts {
		copy(s[3*i:], x[:])
	}
}
