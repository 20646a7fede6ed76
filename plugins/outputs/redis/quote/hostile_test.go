package quote

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestPoisonedStateNeverFreezesTheDocumentIntegration is the reproduction: a
// junk field in the state made every later merge fail after its writes,
// so the document stayed at a=1 for ever while the hash moved on. Now the
// junk is dropped with a line naming it, and every merge leaves the
// document equal to the state.
func TestPoisonedStateNeverFreezesTheDocumentIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := &Options{Key: "t:poison", StateKey: StateKeyFor("t:poison"), Quote: "usd", TimestampUnits: 1e9, Now: opts().Now}
	write(t, c, o, metricWith(100, map[string]interface{}{"a_usd": 1.0}))
	if _, err := c.Do("HSET", "{t:poison}:prices", "junk", "x"); err != nil {
		t.Fatal(err)
	}
	for i, ts := range []int64{300, 400, 500} {
		out := write(t, c, o, metricWith(ts, map[string]interface{}{"a_usd": float64(ts), "b_usd": float64(ts)}))
		if i == 0 && !warned(out, `key "t:poison": coin "junk": the stored entry "x" could not be read: dropped`) {
			t.Fatalf("no line for the junk: %+v", out)
		}
		if out.Written != 1 {
			t.Fatalf("outcome %+v", out)
		}
		consistent(t, c, o)
	}
	if _, raw := readDoc(t, c, "t:poison"); raw != `{"timestamp":500,"quote":"usd","prices":[{"id":"a","price":"500"},{"id":"b","price":"500"}]}` {
		t.Fatalf("document %s", raw)
	}
}

// TestPoisonedStateShapesIntegration puts junk of many shapes into the state and the
// indexes. Each merge after it succeeds, repairs a coin from the document
// when it can (its entry there and its time in the index are still ours)
// or drops it with a line naming it, and leaves the document equal to the
// state.
func TestPoisonedStateShapesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	keys := o.Keys()
	seed := func() {
		t.Helper()
		if _, err := c.Do("FLUSHALL"); err != nil {
			t.Fatal(err)
		}
		write(t, c, o, metricWith(1795552000, map[string]interface{}{"bitcoin_usd": 97234.12, "ethereum_usd": 3391.45, "solana_usd": 150.0}))
		consistent(t, c, o)
	}
	type shape struct {
		name   string
		poison [][]interface{}
		coin   string // named in a line
		what   string // "repaired" or "dropped"
		kept   bool   // bitcoin's price is still 97234.12 afterwards
	}
	huge := strings.Repeat("z", 1<<20)
	shapes := []shape{
		{"a new field with junk", [][]interface{}{{"HSET", keys[1], "junk", "x"}}, "junk", "dropped", true},
		{"a coin's entry overwritten", [][]interface{}{{"HSET", keys[1], "bitcoin", "garbage"}}, "bitcoin", "repaired", true},
		{"the entry of another coin", [][]interface{}{{"HSET", keys[1], "bitcoin", `01795552000000000000 1795552000 {"id":"ethereum","price":"1"}`}},
			"bitcoin", "repaired", true},
		{"an exponent price", [][]interface{}{{"HSET", keys[1], "bitcoin", `01795552000000000000 1795552000 {"id":"bitcoin","price":"1e-5"}`}},
			"bitcoin", "repaired", true},
		{"a number price", [][]interface{}{{"HSET", keys[1], "bitcoin", `01795552000000000000 1795552000 {"id":"bitcoin","price":5}`}},
			"bitcoin", "repaired", true},
		{"a short order", [][]interface{}{{"HSET", keys[1], "bitcoin", `1795552000000000000 1795552000 {"id":"bitcoin","price":"5"}`}},
			"bitcoin", "repaired", true},
		{"letters in the order", [][]interface{}{{"HSET", keys[1], "bitcoin", `0179555200000000000x 1795552000 {"id":"bitcoin","price":"5"}`}},
			"bitcoin", "repaired", true},
		{"a huge value", [][]interface{}{{"HSET", keys[1], "bitcoin", huge}}, "bitcoin", "repaired", true},
		{"an empty value", [][]interface{}{{"HSET", keys[1], "bitcoin", ""}}, "bitcoin", "repaired", true},
		{"an empty field", [][]interface{}{{"HSET", keys[1], "", "x"}}, "", "dropped", true},
		{"a field that is not UTF-8", [][]interface{}{{"HSET", keys[1], "\xff\xfe", "x"}}, "\xff\xfe", "dropped", true},
		{"junk and no time kept", [][]interface{}{{"HSET", keys[1], "bitcoin", "garbage"}, {"DEL", keys[3]}}, "bitcoin", "dropped", false},
		{"junk and a foreign document", [][]interface{}{{"HSET", keys[1], "bitcoin", "garbage"}, {"SET", keys[0], "{}"}}, "bitcoin", "dropped", false},
	}
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			seed()
			for _, cmd := range s.poison {
				if _, err := c.Do(cmd[0].(string), cmd[1:]...); err != nil {
					t.Fatal(err)
				}
			}
			out := write(t, c, o, metricWith(1795552010, map[string]interface{}{"near_usd": 3.0}))
			if !warned(out, `coin `+quoted(s.coin)+`: the stored entry`, s.what) {
				t.Fatalf("no %s line for %q: %q", s.what, s.coin, out.Warnings)
			}
			consistent(t, c, o)
			got := prices(must(readDoc(t, c, "q")))
			if (got["bitcoin"] == "97234.12") != s.kept || got["near"] != "3" || got["ethereum"] != "3391.45" {
				t.Fatalf("prices %v", got)
			}
			// The next merge is a splice again.
			out = write(t, c, o, metricWith(1795552020, map[string]interface{}{"near_usd": 4.0}))
			if out.Rebuilt != "" {
				t.Fatalf("still rebuilding (%s)", out.Rebuilt)
			}
			consistent(t, c, o)
		})
	}

	// The junk is in the batch's own coin: repaired, then replaced.
	t.Run("junk in the coin written", func(t *testing.T) {
		seed()
		do(t, c, "HSET", keys[1], "bitcoin", "garbage")
		out := write(t, c, o, metricWith(1795551000, map[string]interface{}{"bitcoin_usd": 1.0}))
		if !warned(out, `coin "bitcoin"`, "repaired") || out.Refusals[Stale].Count != 1 {
			t.Fatalf("outcome %+v", out)
		}
		consistent(t, c, o)
		out = write(t, c, o, metricWith(1795553000, map[string]interface{}{"bitcoin_usd": 2.0}))
		if got := prices(must(readDoc(t, c, "q"))); got["bitcoin"] != "2" {
			t.Fatalf("prices %v", got)
		}
		consistent(t, c, o)
	})
}

func quoted(s string) string { return strconv.Quote(s) }

// TestWrongTypesFailBeforeAnyWriteIntegration: a document or state key holding
// another type is for an operator to fix: the merge fails with a clear
// error and writes nothing. Our own indexes of a wrong type are rebuilt.
func TestWrongTypesFailBeforeAnyWriteIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	keys := o.Keys()
	for i, typ := range []string{"string", "hash"} {
		do(t, c, "FLUSHALL")
		write(t, c, o, metricWith(1795552000, map[string]interface{}{"bitcoin_usd": 1.0}))
		do(t, c, "DEL", keys[i])
		if typ == "string" {
			do(t, c, "RPUSH", keys[i], "x") // the document as a list
		} else {
			do(t, c, "SET", keys[i], "x") // the state as a string
		}
		before := snapshot(t, c)
		b := NewBatch(o)
		add(t, b, metricWith(1795552001, map[string]interface{}{"bitcoin_usd": 2.0}))
		_, err := b.Write(context.Background(), c)
		if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") || !strings.Contains(err.Error(), keys[i]) {
			t.Fatalf("%s of the wrong type: %v", keys[i], err)
		}
		if !sameSnapshot(before, snapshot(t, c)) {
			t.Fatalf("%s of the wrong type: something was written", keys[i])
		}
	}
	for _, k := range keys[2:] {
		do(t, c, "FLUSHALL")
		write(t, c, o, metricWith(1795552000, map[string]interface{}{"bitcoin_usd": 1.0}))
		do(t, c, "DEL", k)
		do(t, c, "RPUSH", k, "x")
		write(t, c, o, metricWith(1795552001, map[string]interface{}{"bitcoin_usd": 2.0}))
		consistent(t, c, o)
	}
}

// TestForeignDocumentIsRebuiltIntegration: another writer replaced the document
// (the old shell consumer still running, say): it is noticed even when it
// has the same length, and the document is rebuilt from the state.
func TestForeignDocumentIsRebuiltIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	write(t, c, o, metricWith(1795552000, map[string]interface{}{"bitcoin_usd": 97234.12, "ethereum_usd": 3391.45}))
	for _, forged := range []string{
		`{"timestamp":1795552000,"quote":"usd","prices":[{"id":"bitcoin","price":"97234.13"},{"id":"ethereum","price":"3391.45"}]}`,
		"{\n  \"timestamp\": 1795552000,\n  \"quote\": \"usd\",\n  \"prices\": []\n}",
	} {
		do(t, c, "SET", "q", forged)
		out := write(t, c, o, metricWith(1795552010, map[string]interface{}{"solana_usd": 150.0}))
		if out.Rebuilt == "" || !warned(out, "rebuilt from the state") {
			t.Fatalf("outcome %+v", out)
		}
		consistent(t, c, o)
		if got := prices(must(readDoc(t, c, "q"))); got["bitcoin"] != "97234.12" {
			t.Fatalf("prices %v", got)
		}
	}
}

// TestAuditFindsForgeriesInALargeDocumentIntegration: a large document is not read
// whole (nor its SHA1 kept), so an entry forged byte for byte (same
// length) in the document, or a valid-looking entry forged in the state,
// is found by the audit window going round the document: within n/16
// merges of coins elsewhere, each merge succeeding, and then the document
// is rebuilt from the state.
// audit is the script's AUDIT: entries compared per merge in a large document.
const audit = 16

func TestAuditFindsForgeriesInALargeDocumentIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	const n = 2000
	fields := map[string]interface{}{}
	for i := 0; i < n; i++ {
		fields[fmt.Sprintf("coin-%04d_usd", i)] = 1000.25
	}
	for _, forge := range []string{"document", "state"} {
		t.Run(forge, func(t *testing.T) {
			do(t, c, "FLUSHALL")
			write(t, c, o, metricWith(1795552000, fields))
			if meta, err := redis.String(c.Do("HGET", o.Keys()[4], "ix")); err != nil || meta != "1" {
				t.Fatalf("layout %q (%v)", meta, err)
			}
			switch forge {
			case "document":
				doc, err := redis.String(c.Do("GET", "q"))
				if err != nil {
					t.Fatal(err)
				}
				i := strings.Index(doc, `{"id":"coin-1500","price":"1000.25"}`)
				do(t, c, "SETRANGE", "q", i+len(`{"id":"coin-1500","price":"`), "9999.25")
			case "state":
				do(t, c, "HSET", o.StateKey, "coin-1500", `01795552000000000000 1795552000 {"id":"coin-1500","price":"9999.25"}`)
			}
			for merge := 1; ; merge++ {
				out := write(t, c, o, metricWith(1795552000+int64(merge), map[string]interface{}{"coin-0001_usd": float64(merge)}))
				if out.Rebuilt != "" {
					t.Logf("found at merge %d (%s)", merge, out.Rebuilt)
					if merge > n/audit+1 || !warned(out, "rebuilt from the state") {
						t.Fatalf("found at merge %d: %+v", merge, out)
					}
					break
				}
				if merge > n/audit+1 {
					t.Fatalf("not found after %d merges", merge)
				}
			}
			consistent(t, c, o)
			want := map[string]string{"document": "1000.25", "state": "9999.25"}[forge] // the state is the truth
			if got := prices(must(readDoc(t, c, "q")))["coin-1500"]; got != want {
				t.Fatalf("coin-1500 = %s, want %s", got, want)
			}
		})
	}
}

// TestSmallDocumentItsSHA1DoesNotVouchForIntegration: a small document whose SHA1 is
// not the one in the meta (an older script beside this one wrote it last,
// or kept none) is compared whole with the state: spliced into when every
// entry agrees, and the SHA1 kept again; rebuilt from the state when one
// entry was forged, even with its length kept.
func TestSmallDocumentItsSHA1DoesNotVouchForIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	fields := map[string]interface{}{}
	for i := 0; i < 40; i++ {
		fields[fmt.Sprintf("coin-%02d_usd", i)] = 1000.25
	}
	for _, sha := range []string{"", "0000000000000000000000000000000000000000"} {
		do(t, c, "FLUSHALL")
		write(t, c, o, metricWith(t0, fields))
		do(t, c, "HSET", o.Keys()[4], "sha", sha)
		out := write(t, c, o, metricWith(t0+1, map[string]interface{}{"coin-01_usd": 2.0}))
		if out.Rebuilt != "" || len(out.Warnings) != 0 {
			t.Fatalf("sha %q: %+v", sha, out)
		}
		consistent(t, c, o)

		do(t, c, "HSET", o.Keys()[4], "sha", sha)
		doc, err := redis.String(c.Do("GET", "q"))
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(doc, `{"id":"coin-05","price":"1000.25"}`)
		do(t, c, "SETRANGE", "q", i+len(`{"id":"coin-05","price":"`), "9999.25")
		out = write(t, c, o, metricWith(t0+2, map[string]interface{}{"coin-01_usd": 3.0}))
		if out.Rebuilt == "" || !warned(out, "rebuilt from the state") {
			t.Fatalf("sha %q, a forged entry: %+v", sha, out)
		}
		consistent(t, c, o)
		if got := prices(must(readDoc(t, c, "q"))); got["coin-05"] != "1000.25" || got["coin-01"] != "3" {
			t.Fatalf("prices %v", got)
		}
	}
}

// TestIdsIndexOutOfStepWithTheCountKeptIntegration: another program removed a coin
// from the ids index and added a ghost, keeping its count. A new coin
// that goes where the removed one stands must still land in byte order:
// the merge notices and rebuilds, in a small document and a large one.
func TestIdsIndexOutOfStepWithTheCountKeptIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	for _, fillers := range []int{0, 2000} {
		do(t, c, "FLUSHALL")
		fields := map[string]interface{}{"b_usd": 1.0, "c_usd": 2.0, "d_usd": 3.0}
		for i := 0; i < fillers; i++ {
			fields[fmt.Sprintf("filler-%04d_usd", i)] = 1.0
		}
		write(t, c, o, metricWith(t0, fields))
		do(t, c, "ZREM", o.Keys()[2], "c")
		do(t, c, "ZADD", o.Keys()[2], 0, "zz-ghost")
		out := write(t, c, o, metricWith(t0+1, map[string]interface{}{"bb_usd": 4.0}))
		if out.Rebuilt == "" || out.Written != 1 {
			t.Fatalf("%d fillers: %+v", fillers, out)
		}
		consistent(t, c, o)
	}
}
