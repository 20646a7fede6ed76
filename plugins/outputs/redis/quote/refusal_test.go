package quote

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestRefusalsAreCountedByReasonIntegration: every price that cannot be kept is
// counted under its reason, with a coin named, and reported in one line per
// reason; none is dropped without a word.
func TestRefusalsAreCountedByReasonIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	o.MaxFuture = 5 * time.Minute
	write(t, c, o, metricWith(1795552004, map[string]interface{}{"stored_usd": 1.0}))
	b := NewBatch(o)
	for _, m := range []*metricline.Metric{
		metricWith(1795552004, map[string]interface{}{"na_usd": "n/a", "flag_usd": true, "nan_usd": "NaN"}),
		metricWith(1795552004, map[string]interface{}{"big_usd": "1e400", "tiny_usd": "1e-400", "lazy_usd": decimal("1e-400"), "sub_usd": 1e-310}),
		metricWith(1795552000, map[string]interface{}{"stored_usd": 0.5}),
		metricWith(9214646400, map[string]interface{}{"late_usd": 1.0, "late2_usd": 2.0}), // 2262
		metricWith(clock.Unix()+60, map[string]interface{}{"soon_usd": 1.0}),              // a minute ahead: fine
		metricWith(1795552004, map[string]interface{}{"ok_usd": decimal("1e-300"), "zero_usd": decimal("0e-500")}),
	} {
		if err := b.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.Write(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Reason]int{NotANumber: 3, OutOfRange: 4, Stale: 1, Future: 2}
	for r, n := range want {
		if out.Refusals[r].Count != n {
			t.Errorf("%s: %d, want %d (%+v)", r, out.Refusals[r].Count, n, out.Refusals[r])
		}
	}
	if out.Written != 2 || out.Refused != 4 {
		t.Errorf("metrics: written %d, refused %d", out.Written, out.Refused)
	}
	for _, line := range []string{
		`refused 3 prices: not a number (e.g. coin "flag" = true at 2026-11-24T20:26:44Z)`,
		`refused 4 prices: out of range, beyond float64 or below its normal range (e.g. coin "big" = "1e400"`,
		`refused 2 prices: too far in the future, more than max_future 5m0s ahead of the clock (e.g. coin "late2" at 2262-01-01T00:00:00Z)`,
	} {
		if !warned(out, line) {
			t.Errorf("no line %q in %q", line, out.Warnings)
		}
	}
	// A replay refused is what the merge is for: an info line, not a warning.
	if !informed(out, `refused 1 price: older than stored (e.g. coin "stored" at 2026-11-24T20:26:40Z, stored 2026-11-24T20:26:44Z)`) {
		t.Errorf("no info line for the stale price in %q", out.Infos)
	}
	if len(out.Warnings) != 3 {
		t.Errorf("%d lines: %q", len(out.Warnings), out.Warnings)
	}
	got := prices(must(readDoc(t, c, "q")))
	if got["soon"] != "1" || got["ok"] == "" || got["zero"] != "0" || len(got) != 4 {
		t.Errorf("prices %v", got)
	}
	consistent(t, c, o)

	// max_future = 0: the check is off, and old data stays accepted.
	o.MaxFuture = 0
	out = write(t, c, o, metricWith(9214646400, map[string]interface{}{"late_usd": 1.0}), metricWith(100, map[string]interface{}{"old_usd": 1.0}))
	if out.Written != 2 || out.Refusals[Future].Count != 0 {
		t.Errorf("max_future off: %+v", out)
	}
}

// TestFutureCheckFollowsTheClock is the hostile variant: the limit is
// read from the clock again when a metric passes the one computed last, so
// a long-lived batch neither refuses a price that has become fine nor lets
// one through that never was.
func TestFutureCheckFollowsTheClock(t *testing.T) {
	now := clock
	o := opts()
	o.MaxFuture = time.Minute
	o.Now = func() time.Time { return now }
	b := NewBatch(o)
	add(t, b, metricWith(now.Unix()+30, map[string]interface{}{"a_usd": 1.0}))
	add(t, b, metricWith(now.Unix()+120, map[string]interface{}{"b_usd": 1.0}))
	now = now.Add(2 * time.Minute)
	add(t, b, metricWith(now.Unix()-60+120, map[string]interface{}{"c_usd": 1.0}))
	add(t, b, metricWith(now.Unix()+61, map[string]interface{}{"d_usd": 1.0}))
	if b.refused[Future].Count != 2 || b.Coins() != 2 || b.refused[Future].Coin != "b" {
		t.Fatalf("refused %+v, %d coins", b.refused[Future], b.Coins())
	}
}

func TestMayBeTiny(t *testing.T) {
	for s, want := range map[string]bool{
		"97234.12": false, "1e-5": false, "6.566662934148e-07": false, "1e-99": false, "123": false,
		"1e-400": true, "1e-0400": true, "1E-300": true, "2.5e-310": true, "1e+300": false,
		"0." + string(make([]byte, 0)) + "000000000000000000000000000000001": false,
	} {
		if got := mayBeTiny([]byte(s)); got != want {
			t.Errorf("%q: %v", s, got)
		}
	}
	// Whatever the fast path says, a tiny value is refused.
	lead := "0." + strings.Repeat("0", 400) + "1"
	if _, r, ok := value(&metricline.Field{Kind: metricline.Decimal, Str: []byte(lead)}); ok || r != OutOfRange {
		t.Errorf("400 zeros: %v %v", ok, r)
	}
}

// A flush whose every price is refused merges nothing, and still says
// why: found when such lines arrived alone between two flushes.
func TestAFlushOfRefusedPricesOnlyIsReportedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	write(t, c, o, metricWith(1795552004, map[string]interface{}{"bitcoin_usd": 1.0}))
	b := NewBatch(o)
	for _, m := range []*metricline.Metric{
		metricWith(1795552010, map[string]interface{}{"bitcoin_usd": "n/a"}),
		metricWith(1795552010, map[string]interface{}{"bitcoin_usd": true}),
		metricWith(1795552010, map[string]interface{}{"bitcoin_usd": "1e400"}),
	} {
		if err := b.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.Write(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Updates != 0 || out.Refused != 3 || !warned(out, `refused 2 prices: not a number (e.g. coin "bitcoin"`) ||
		!warned(out, `refused 1 price: out of range`, `"1e400"`) || len(out.Warnings) != 2 {
		t.Fatalf("%+v", out)
	}
}
