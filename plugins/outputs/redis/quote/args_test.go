package quote

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestBadArgumentsAreRefusedBeforeTheScriptIntegration: arguments the script could
// not use are refused by checkArgs, naming the argument, and the script is
// never called with them: nothing is read or written.
func TestBadArgumentsAreRefusedBeforeTheScriptIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	write(t, c, o, metricWith(1795552000, map[string]interface{}{"bitcoin_usd": 1.0}))
	keys := o.Keys()
	good := []interface{}{keys[0], keys[1], keys[2], keys[3], keys[4], `"usd"`, "0", "", "9", order(clock.UnixNano()), "", "", "", "0",
		"bitcoin", order(1795552001e9), []byte("2")}
	if err := checkArgs(good); err != nil {
		t.Fatal(err)
	}
	refused := func(args []interface{}, what string) {
		t.Helper()
		if err := checkArgs(args); err == nil || !strings.Contains(err.Error(), what) {
			t.Fatalf("%q: %v, want %q", args[5:], err, what)
		}
	}
	for i, bad := range map[int]string{
		5: "usd", 6: "-1", 8: "10", 9: "123", 10: "x", 11: "1", 12: "not hex", 13: "2",
		14: "", 15: "0179555200100000000x", 16: "1e5",
	} {
		args := slices.Clone(good)
		args[i] = bad
		refused(args, fmt.Sprintf("bad argument %d ", i-4))
	}
	for _, price := range []string{"-1", "1.", ".5", "+1", "1e5", " 1", ""} {
		args := slices.Clone(good)
		args[16] = price
		refused(args, "bad argument 12 (coin of the batch)")
	}
	// Invalid UTF-8 in an id, a duplicate id, ids out of byte order, a
	// triple cut short, a duplicate imported coin.
	for _, tail := range [][]interface{}{
		{"0", "\xff", order(1), "1"},
		{"0", "bitcoin", order(1), "1", "bitcoin", order(2), "2"},
		{"0", "z1", order(2e18), "1", "z0", order(2e18), "1"},
		{"0", "bitcoin", order(1)},
		{"2", "a", order(1), "1", "a", order(1), "1"},
	} {
		refused(append(slices.Clone(good[:13]), tail...), "bad argument")
	}
	// Through a write: a clock before 1970. Nothing is sent.
	before := snapshot(t, c)
	o.Now = func() time.Time { return time.Unix(-1, 0) }
	b := NewBatch(o)
	if err := b.Add(metricWith(1795552001, map[string]interface{}{"bitcoin_usd": 2.0})); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write(context.Background(), c); err == nil || !strings.Contains(err.Error(), "bad argument 5 (clock") {
		t.Fatalf("a clock before 1970: %v", err)
	}
	if !sameSnapshot(before, snapshot(t, c)) {
		t.Fatal("a refused call wrote something")
	}
	if _, err := redis.Values(Script.Do(c, good...)); err != nil {
		t.Fatal(err)
	}
}

// FuzzArgsOfABatch: whatever prices a batch takes, the arguments it
// builds pass checkArgs, as the script trusts them: a coin id that is not
// valid UTF-8 (which line protocol can carry) is refused by Add, alone.
func FuzzArgsOfABatch(f *testing.F) {
	f.Add("bitcoin", "97234.12", int64(t0), "ethereum", 3391.45, int64(-5), int64(t0+1))
	f.Add("a\"b", "-0", int64(0), "\xff", 1e-310, int64(7), int64(0))
	f.Fuzz(func(t *testing.T, id1, text string, t1 int64, id2 string, v float64, n int64, t2 int64) {
		b := NewBatch(opts())
		// Add refuses only a time before 1970, the metric whole.
		if err := b.Add(&metricline.Metric{Time: t1, Fields: []metricline.Field{
			{Key: []byte(id1 + "_usd"), Kind: metricline.String, Str: []byte(text)},
			{Key: []byte("fields_" + id2 + "_usd"), Kind: metricline.Float, Float: v},
		}}); (err != nil) != (t1 < 0) {
			t.Fatalf("time %d: %v", t1, err)
		}
		if err := b.Add(&metricline.Metric{Time: t2, Fields: []metricline.Field{
			{Key: []byte(id2 + "_usd"), Kind: metricline.Int, Int: n},
			{Key: []byte(id1 + "_usd"), Kind: metricline.Float, Float: v},
		}}); (err != nil) != (t2 < 0) {
			t.Fatalf("time %d: %v", t2, err)
		}
		for id, p := range b.coins {
			if p.used && !utf8.ValidString(id) {
				t.Fatalf("coin %q held: its id is not UTF-8", id)
			}
		}
		for _, id := range []string{id1, id2} {
			added := t1 >= 0 || t2 >= 0 // a time before 1970 refuses the metric whole
			if added && id != "" && !utf8.ValidString(id) && b.refused[BadCoinID].Count == 0 {
				t.Fatalf("coin %q not refused", id)
			}
		}
		if b.Coins() == 0 {
			return
		}
		if err := checkArgs(b.Args()); err != nil {
			t.Fatal(err)
		}
	})
}
