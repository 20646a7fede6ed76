package quote

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// v3 runs the script as it was before it was split into modules
// (testdata/merge-v3.lua: the same keys and arguments, a small document
// in its lean layout, each coin's time in the meta) on triples (id,
// order, price) in byte order.
func v3(t *testing.T, c redis.Conn, o *Options, triples ...string) {
	t.Helper()
	src, err := os.ReadFile("testdata/merge-v3.lua")
	if err != nil {
		t.Fatal(err)
	}
	keys := o.Keys()
	args := []interface{}{keys[0], keys[1], keys[2], keys[3], keys[4], `"usd"`, "0", "", "9", order(clock.UnixNano()), "", "", "", "0"}
	for _, s := range triples {
		args = append(args, s)
	}
	if _, err := redis.NewScript(5, string(src)).Do(c, args...); err != nil {
		t.Fatal(err)
	}
}

// v3Seed writes n filler coins and a, b, c at t0 with the previous script:
// a small document (its lean layout) or, with 2,000 fillers, a large one.
func v3Seed(t *testing.T, c redis.Conn, o *Options, fillers int) {
	t.Helper()
	do(t, c, "FLUSHALL")
	var seed []string
	for i := 0; i < fillers; i++ {
		seed = append(seed, fmt.Sprintf("filler-%04d", i), order(t0*1e9), "1")
	}
	seed = append(seed, "a", order(t0*1e9), "1", "b", order((t0-10)*1e9), "2", "c", order(t0*1e9), "3")
	sortTriples(seed)
	v3(t, c, o, seed...)
	if ix, err := redis.String(c.Do("HGET", o.Keys()[4], "ix")); err != nil || ix != map[bool]string{true: "1", false: "0"}[fillers > 0] {
		t.Fatalf("the previous script left layout %q", ix)
	}
}

// TestUpgradeFromTheLeanLayoutIntegration: what the previous script
// stored is taken over. A small document in its lean layout (no indexes,
// each coin's time in the meta) is rebuilt into the one layout at the
// first merge, with an info line and no warning, each coin keeping its
// own time; a large one is spliced into at once. Hostile: the previous
// script still runs beside this one (a rolling upgrade), and every merge
// of either leaves a document this one splices into.
func TestUpgradeFromTheLeanLayoutIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	for _, fillers := range []int{0, 2000} {
		t.Run(fmt.Sprintf("%d fillers", fillers), func(t *testing.T) {
			v3Seed(t, c, o, fillers)
			// b's own time is t0-10: a price of t0-5 is newer than it,
			// though older than the document's timestamp.
			out := write(t, c, o, metricWith(t0-5, map[string]interface{}{"a_usd": 9.0, "b_usd": 5.0}))
			want := map[bool]string{true: "", false: "new"}[fillers > 0]
			if out.Rebuilt != want || len(out.Warnings) != 0 || out.Refusals[Stale].Count != 1 || out.Written != 1 {
				t.Fatalf("first merge: %+v", out)
			}
			if want == "new" && !informed(out, "first write with this version's layout") {
				t.Fatalf("no info line: %q", out.Infos)
			}
			consistent(t, c, o)
			if got := prices(must(readDoc(t, c, "q"))); got["a"] != "1" || got["b"] != "5" || got["c"] != "3" {
				t.Fatalf("prices %v", got)
			}
			// Both scripts take turns.
			for i := int64(1); i <= 5; i++ {
				v3(t, c, o, "a", order((t0+i)*1e9), strconv.FormatInt(i, 10))
				out := write(t, c, o, metricWith(t0+i, map[string]interface{}{"c_usd": float64(10 + i)}))
				if out.Rebuilt != "" || len(out.Warnings) != 0 {
					t.Fatalf("turn %d: %+v", i, out)
				}
				consistent(t, c, o)
			}
			if got := prices(must(readDoc(t, c, "q"))); got["a"] != "5" || got["c"] != "15" {
				t.Fatalf("prices %v", got)
			}
		})
	}
}

// TestUpgradeFromTheLeanLayoutHostileIntegration: the lean layout's state
// was damaged before the first merge of this script. Its times, kept in
// the meta, still serve: a coin deleted from the state comes back with its
// own time, a junk entry is repaired, a deleted state is restored; a coin
// whose time went too is dropped. Each with its line.
func TestUpgradeFromTheLeanLayoutHostileIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	keys := o.Keys()
	for _, tc := range []struct {
		name   string
		damage [][]interface{}
		line   string
	}{
		{"a coin deleted", [][]interface{}{{"HDEL", keys[1], "b"}},
			`the entries of 1 coin had been deleted from the state "{q}:prices" (by another program?): restored with their own times`},
		{"a junk entry", [][]interface{}{{"HSET", keys[1], "b", "junk"}}, `coin "b": the stored entry "junk" could not be read: repaired`},
		{"the state deleted", [][]interface{}{{"DEL", keys[1]}}, "the state beside the document had been deleted: 3 coins restored"},
		{"a coin and its time deleted", [][]interface{}{{"HDEL", keys[1], "b"}, {"HDEL", keys[4], "t:b"}},
			"and their times from its times index: dropped from the document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v3Seed(t, c, o, 0)
			for _, cmd := range tc.damage {
				if _, err := c.Do(cmd[0].(string), cmd[1:]...); err != nil {
					t.Fatal(err)
				}
			}
			// b's own time is t0-10: its price of t0-5 is taken only if
			// b keeps it (when b is dropped, the price is new).
			out := write(t, c, o, metricWith(t0-5, map[string]interface{}{"b_usd": 5.0}))
			if !warned(out, tc.line) || out.Written != 1 {
				t.Fatalf("outcome %+v", out)
			}
			consistent(t, c, o)
			if got := prices(must(readDoc(t, c, "q"))); got["a"] != "1" || got["b"] != "5" || got["c"] != "3" {
				t.Fatalf("prices %v", got)
			}
			if out := write(t, c, o, metricWith(t0+1, map[string]interface{}{"c_usd": 4.0})); out.Rebuilt != "" {
				t.Fatalf("still rebuilding: %+v", out)
			}
			consistent(t, c, o)
		})
	}
}
