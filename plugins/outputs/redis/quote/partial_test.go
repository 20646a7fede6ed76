package quote

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// partialSeed writes n coins c00000.. at t0 (price 1000 + i) into key q16,
// the setup: 10 coins make a small document (read whole), 2,000 a
// large one (read in windows).
func partialSeed(t *testing.T, c redis.Conn, n int) *Options {
	t.Helper()
	if _, err := c.Do("FLUSHALL"); err != nil {
		t.Fatal(err)
	}
	o := &Options{Key: "q16", StateKey: StateKeyFor("q16"), Quote: "usd", TimestampUnits: time.Second, Now: opts().Now}
	fields := map[string]interface{}{}
	for i := 0; i < n; i++ {
		fields[fmt.Sprintf("c%05d_usd", i)] = 1000 + float64(i)
	}
	write(t, c, o, metricWith(t0, fields))
	consistent(t, c, o)
	return o
}

// auditVouched is the script's AUDIT_VOUCHED: entries of a small document
// (its SHA1 kept) compared with the state at each merge.
const auditVouched = 2

// TestPartialStateDeleteIntegration is issue 19's fourth reproduction:
// HDEL of one coin from the state, a write of another coin, then a price
// of that coin dated an hour before its stored one. The coin vanished from
// the document (the warning did not name it) and the older price was then
// taken. Now the coin is restored with its own time (from the times index
// and the document), the older price is refused, and the warning names it.
func TestPartialStateDeleteIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	for _, n := range []int{10, 2000} {
		t.Run(fmt.Sprintf("%d coins", n), func(t *testing.T) {
			o := partialSeed(t, c, n)
			if _, err := c.Do("HDEL", "{q16}:prices", "c00005"); err != nil {
				t.Fatal(err)
			}
			out := write(t, c, o, metricWith(t0+10, map[string]interface{}{"c00001_usd": 7.0}))
			if !warned(out, `key "q16": the entries of 1 coin had been deleted from the state "{q16}:prices"`, `restored with their own times`, `: "c00005"`) ||
				out.Repaired != 1 || out.Written != 1 {
				t.Fatalf("outcome %+v", out)
			}
			if warned(out, "rebuilt from it") || len(out.Warnings) != 1 {
				t.Fatalf("the restore alone says what happened: %q", out.Warnings)
			}
			consistent(t, c, o)
			if got := prices(must(readDoc(t, c, "q16"))); got["c00005"] != "1005" || got["c00001"] != "7" || len(got) != n {
				t.Fatalf("%d coins, c00005 = %q, c00001 = %q", len(got), got["c00005"], got["c00001"])
			}
			out = write(t, c, o, metricWith(t0-3600, map[string]interface{}{"c00005_usd": 1.0}))
			if out.Refusals[Stale].Count != 1 || out.Written != 0 || out.Rebuilt != "" {
				t.Fatalf("an hour older: %+v", out)
			}
			if got := prices(must(readDoc(t, c, "q16"))); got["c00005"] != "1005" {
				t.Fatalf("c00005 = %q after an older price", got["c00005"])
			}
			consistent(t, c, o)
		})
	}
}

// TestPartialStateDeleteHostileIntegration: several coins deleted (the
// line names ten and counts the rest), the coin being written deleted in
// the same batch (its older price refused, a newer one taken), its time
// deleted too (dropped, and named), and a deleted coin met by a price of
// its own time (the higher stays).
func TestPartialStateDeleteHostileIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	for _, n := range []int{10, 2000} {
		t.Run(fmt.Sprintf("%d coins, several", n), func(t *testing.T) {
			o := partialSeed(t, c, n)
			del := min(n-1, 25)
			args := []interface{}{o.StateKey}
			for i := 0; i < del; i++ {
				args = append(args, fmt.Sprintf("c%05d", i))
			}
			do(t, c, "HDEL", args...)
			out := write(t, c, o, metricWith(t0+10, map[string]interface{}{"new_usd": 1.0}))
			names := `: "c00000", "c00001", "c00002", "c00003", "c00004", "c00005", "c00006", "c00007", "c00008"`
			if n > 10 {
				names += `, "c00009" and 15 more`
			}
			if !warned(out, fmt.Sprintf("the entries of %d coins had been deleted", del), names) || out.Repaired != del {
				t.Fatalf("outcome %+v", out)
			}
			consistent(t, c, o)
			if got := prices(must(readDoc(t, c, "q16"))); len(got) != n+1 || got["c00000"] != "1000" || got["new"] != "1" {
				t.Fatalf("%d coins, c00000 = %q", len(got), got["c00000"])
			}
		})
		t.Run(fmt.Sprintf("%d coins, the coin written", n), func(t *testing.T) {
			o := partialSeed(t, c, n)
			do(t, c, "HDEL", o.StateKey, "c00005", "c00006")
			out := write(t, c, o, metricWith(t0-3600, map[string]interface{}{"c00005_usd": 1.0}),
				metricWith(t0+1, map[string]interface{}{"c00006_usd": 2.0}))
			if out.Refusals[Stale].Count != 1 || out.Refusals[Stale].Coin != "c00005" || out.Written != 1 ||
				!warned(out, `the entries of 2 coins`, `"c00005", "c00006"`) {
				t.Fatalf("outcome %+v", out)
			}
			consistent(t, c, o)
			if got := prices(must(readDoc(t, c, "q16"))); got["c00005"] != "1005" || got["c00006"] != "2" {
				t.Fatalf("c00005 = %q, c00006 = %q", got["c00005"], got["c00006"])
			}
		})
		t.Run(fmt.Sprintf("%d coins, its time deleted too", n), func(t *testing.T) {
			o := partialSeed(t, c, n)
			do(t, c, "HDEL", o.StateKey, "c00005", "c00006")
			do(t, c, "ZREM", o.Keys()[3], order(t0*1e9)+" c00005")
			out := write(t, c, o, metricWith(t0+10, map[string]interface{}{"new_usd": 1.0}))
			if !warned(out, `the entries of 1 coin had been deleted from the state "{q16}:prices", and their times`,
				`dropped from the document`, `: "c00005"`) ||
				!warned(out, `the entries of 1 coin had been deleted`, `restored with their own times`, `: "c00006"`) {
				t.Fatalf("outcome %q", out.Warnings)
			}
			consistent(t, c, o)
			if got := prices(must(readDoc(t, c, "q16"))); got["c00005"] != "" || got["c00006"] != "1006" || len(got) != n {
				t.Fatalf("%d coins, c00005 = %q, c00006 = %q", len(got), got["c00005"], got["c00006"])
			}
		})
		t.Run(fmt.Sprintf("%d coins, and a tie", n), func(t *testing.T) {
			o := partialSeed(t, c, n)
			do(t, c, "HDEL", o.StateKey, "c00005", "c00006")
			// Of its own time: c00005 lower (refused), c00006 higher (taken).
			out := write(t, c, o, metricWith(t0, map[string]interface{}{"c00005_usd": 1.0, "c00006_usd": 9999.0}))
			if out.Refusals[Stale].Count != 1 || out.Refusals[Stale].Coin != "c00005" || out.Written != 1 ||
				!informed(out, "as old and lower", `coin "c00005"`) {
				t.Fatalf("outcome %+v", out)
			}
			consistent(t, c, o)
			if got := prices(must(readDoc(t, c, "q16"))); got["c00005"] != "1005" || got["c00006"] != "9999" {
				t.Fatalf("c00005 = %q, c00006 = %q", got["c00005"], got["c00006"])
			}
		})
	}
	// Another program deleted a coin from the state and added one of its
	// own, leaving the count alone: the audit finds it within n/2 merges
	// (the window of a small document its SHA1 vouches for), the state is
	// the truth for the added coin, the deleted one comes back, and both
	// lines are given.
	t.Run("deleted one, added another", func(t *testing.T) {
		o := partialSeed(t, c, 10)
		do(t, c, "HDEL", o.StateKey, "c00005")
		do(t, c, "HSET", o.StateKey, "other", fmt.Sprintf(`%s %d {"id":"other","price":"3"}`, order(t0*1e9), t0))
		for merge := 1; ; merge++ {
			out := write(t, c, o, metricWith(t0+int64(merge), map[string]interface{}{"c00001_usd": 7.0}))
			if out.Rebuilt == "" {
				if merge > 10/auditVouched+1 {
					t.Fatalf("not found after %d merges", merge)
				}
				continue
			}
			if !warned(out, `: "c00005"`) || !warned(out, "rebuilt from the state") {
				t.Fatalf("outcome %q", out.Warnings)
			}
			break
		}
		consistent(t, c, o)
		if got := prices(must(readDoc(t, c, "q16"))); got["c00005"] != "1005" || got["other"] != "3" || len(got) != 11 {
			t.Fatalf("prices %v", got)
		}
	})
	// The document is not ours any more (another writer's): nothing of it
	// is trusted, and the deleted coin is not brought back from it.
	t.Run("and a foreign document", func(t *testing.T) {
		o := partialSeed(t, c, 10)
		do(t, c, "HDEL", o.StateKey, "c00005")
		doc, err := redis.String(c.Do("GET", "q16"))
		if err != nil {
			t.Fatal(err)
		}
		do(t, c, "SET", "q16", strings.Replace(doc, `"price":"1005"`, `"price":"1"`, 1))
		out := write(t, c, o, metricWith(t0+10, map[string]interface{}{"c00001_usd": 7.0}))
		if warned(out, "restored") {
			t.Fatalf("restored from a foreign document: %q", out.Warnings)
		}
		consistent(t, c, o)
	})
}
