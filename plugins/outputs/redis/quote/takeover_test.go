package quote

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

func TestPlainDecimal(t *testing.T) {
	for in, want := range map[string]string{
		"1.2345678901234e-05":     "0.000012345678901234",
		"123456789012345678":      "123456789012345678",
		"97234.12":                "97234.12",
		"97234.120":               "97234.12",
		"0097234.12":              "97234.12",
		"1e3":                     "1000",
		"1.5E+2":                  "150",
		"+2.50":                   "2.5",
		"-0.0":                    "0",
		"0e999999999999999999":    "0",
		"-1.2345678901234567e-7":  "-0.00000012345678901234567",
		"2.2250738585072014e-308": "0." + strings.Repeat("0", 307) + "22250738585072014",
	} {
		got, _, ok := plainDecimal(in)
		if !ok || got != want {
			t.Errorf("%s: got %q (%v), want %q", in, got, ok, want)
		}
	}
	for in, want := range map[string]Reason{
		"n/a": NotANumber, "": NotANumber, "NaN": NotANumber, "Inf": NotANumber, "0x10": NotANumber, "1e": NotANumber,
		"1e400": OutOfRange, "-1e400": OutOfRange, "1e-400": OutOfRange, "1e-320": OutOfRange, "1e99999999999999999999": OutOfRange,
	} {
		if _, r, ok := plainDecimal(in); ok || r != want {
			t.Errorf("%s: reason %v (%v), want %v", in, r, ok, want)
		}
	}
}

// theArticlesDocument is what the article's shell consumer (jq, then
// redis-cli SET) left: pretty-printed, prices as strings with jq's
// exponents, here with the shapes other programs wrote too.
const theArticlesDocument = `{
  "timestamp": 1795552004,
  "quote": "usd",
  "prices": [
    {"id": "bitcoin", "price": "97234.12"},
    {"id": "decentraland", "price": "1.2345678901234e-05"},
    {"id": "big", "price": 123456789012345678},
    {"id": "small", "price": 1.5e-7},
    {"id": "object", "price": {"usd": 1}},
    {"id": "null", "price": null},
    {"id": "bool", "price": true},
    {"id": "text", "price": "n/a"},
    {"id": "huge", "price": "1e400"},
    {"id": "missing"},
    {"price": "1"},
    {"id": "slash/id", "price": "2"}
  ]
}`

func TestTakeoverOfTheArticlesDocumentIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	do(t, c, "SET", "q", theArticlesDocument)
	out := write(t, c, o, metricWith(1795552003, map[string]interface{}{"bitcoin_usd": 1.0}),
		metricWith(1795552010, map[string]interface{}{"solana_usd": 150.0}))
	if out.Rebuilt != "takeover" || out.Refusals[Stale].Count != 1 || out.Written != 1 {
		t.Fatalf("outcome %+v", out)
	}
	_, raw := readDoc(t, c, "q")
	want := `{"timestamp":1795552010,"quote":"usd","prices":[{"id":"big","price":"123456789012345678"},{"id":"bitcoin","price":"97234.12"},` +
		`{"id":"decentraland","price":"0.000012345678901234"},{"id":"slash/id","price":"2"},{"id":"small","price":"0.00000015"},{"id":"solana","price":"150"}]}`
	if raw != want {
		t.Fatalf("document\n got %s\nwant %s", raw, want)
	}
	consistent(t, c, o)
	// One line per coin dropped, naming it.
	for _, coin := range []string{"object", "null", "bool", "text"} {
		if !warned(out, `coin "`+coin+`": price`, "is not a number: dropped") {
			t.Errorf("no line for %s: %q", coin, out.Warnings)
		}
	}
	if !warned(out, `coin "huge": price "1e400" is out of range: dropped`) || !warned(out, `prices[10]`, "has no coin id") ||
		!warned(out, `coin "missing" has no price: dropped`) || !informed(out, "refused 1 price: older than stored", `coin "bitcoin"`) {
		t.Errorf("lines %q", out.Warnings)
	}
	if len(out.Warnings) != 7 || len(out.Infos) != 2 || !strings.Contains(out.Infos[0], "took over the document there") {
		t.Errorf("lines %q %q", out.Warnings, out.Infos)
	}
	// Every imported coin has the document's time: a newer price wins, an
	// older one does not.
	out = write(t, c, o, metricWith(1795552005, map[string]interface{}{"big_usd": 1.0}),
		metricWith(1795552000, map[string]interface{}{"small_usd": 2.0}))
	if out.Written != 1 || out.Refusals[Stale].Count != 1 || out.Refusals[Stale].Coin != "small" {
		t.Fatalf("outcome %+v", out)
	}
	consistent(t, c, o)
}

func TestTakeoverTimestampUnitsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	for _, tc := range []struct {
		stamp, line string
		at          int64 // the coins' time, ns (0: none)
	}{
		{"1795552004000", "is in milliseconds, not in timestamp_units (1s): read as 2026-11-24T20:26:44Z", 1795552004e9},
		{"1795552004000000", "is in microseconds", 1795552004e9},
		{"1795552004123456789", "is in nanoseconds", 1795552004123456789},
		{`"1795552004"`, "", 1795552004e9},
		{"1795552004.5", "", 1795552004e9 + 5e8},
		{"12345", "fits no unit from 1ns to 1s", 0},
		{"-1", "is not a time", 0},
		{`"soon"`, "is not a number", 0},
		{"null", "is not a number", 0},
	} {
		do(t, c, "FLUSHALL")
		do(t, c, "SET", "q", `{"timestamp":`+tc.stamp+`,"quote":"usd","prices":[{"id":"bitcoin","price":"5"}]}`)
		out := write(t, c, o, metricWith(1795552020, map[string]interface{}{"solana_usd": 1.0}))
		if tc.line == "" && len(out.Warnings) != 0 || tc.line != "" && !warned(out, "the document's timestamp", tc.line) {
			t.Errorf("%s: lines %q", tc.stamp, out.Warnings)
		}
		entry, err := redis.String(c.Do("HGET", o.StateKey, "bitcoin"))
		if err != nil {
			t.Fatal(err)
		}
		if entry[:20] != fmt.Sprintf("%020d", tc.at) {
			t.Errorf("%s: bitcoin stored as %q", tc.stamp, entry)
		}
		consistent(t, c, o)
	}
	// A document with no time: any price replaces its coins, even an old one.
	out := write(t, c, o, metricWith(1000, map[string]interface{}{"bitcoin_usd": 6.0}))
	if out.Written != 1 {
		t.Fatalf("outcome %+v", out)
	}
}

// TestOrphanedDocumentOfOursIntegration: the state beside our document was deleted.
// Each coin gets its own time back from the times index, so a price newer
// than the coin's own (but older than the document's newest) is taken.
func TestOrphanedDocumentOfOursIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	for _, large := range []bool{false, true} {
		t.Run(fmt.Sprintf("large=%v", large), func(t *testing.T) {
			srv := redistest.Start(t)
			c := srv.Conn()
			o := opts()
			fields := map[string]interface{}{"a_usd": 1.0}
			if large { // a document read in windows
				for i := 0; i < 1000; i++ {
					fields[fmt.Sprintf("filler-%04d_usd", i)] = 1.0
				}
			}
			write(t, c, o, metricWith(100, fields))
			write(t, c, o, metricWith(500, map[string]interface{}{"b_usd": 5.0}))
			do(t, c, "DEL", o.StateKey)
			out := write(t, c, o, metricWith(300, map[string]interface{}{"a_usd": 3.0}))
			if out.Written != 1 || !warned(out, "had been deleted", "restored with their own times") {
				t.Fatalf("outcome %+v", out)
			}
			if got := prices(must(readDoc(t, c, "q"))); got["a"] != "3" || got["b"] != "5" {
				t.Fatalf("prices %v", got)
			}
			consistent(t, c, o)

			// Hostile: the coins' times went with the state. The coins
			// take the document's time, and the log says so.
			do(t, c, "DEL", o.StateKey, o.Keys()[3])
			out = write(t, c, o, metricWith(400, map[string]interface{}{"a_usd": 4.0}))
			if out.Refusals[Stale].Count != 1 || !warned(out, "and its times index, had been deleted", "take the document's time") {
				t.Fatalf("outcome %+v", out)
			}
			consistent(t, c, o)
		})
	}
}

func TestTakeoverRefusesWhatIsNoQuoteIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	for doc, line := range map[string]string{
		`not json`: "is not a quote document",
		`{"timestamp":1,"quote":"usd","prices":{"bitcoin":"1"}}`:                         "is not a quote document",
		`{"timestamp":1795552004,"quote":"eur","prices":[{"id":"bitcoin","price":"1"}]}`: `quotes "eur", not "usd"`,
		`[1,2,3]`: "is not a quote document",
	} {
		do(t, c, "FLUSHALL")
		do(t, c, "SET", "q", doc)
		out := write(t, c, o, metricWith(1795552020, map[string]interface{}{"solana_usd": 1.0}))
		if !warned(out, line) {
			t.Errorf("%s: lines %q", doc, out.Warnings)
		}
		if got := prices(must(readDoc(t, c, "q"))); len(got) != 1 || got["solana"] != "1" {
			t.Errorf("%s: prices %v", doc, got)
		}
		consistent(t, c, o)
	}
}

// TestTakeoverOfAChangedDocumentIntegration is the hostile variant: the coins sent
// back were read from a document that has changed since. The script takes
// none of them, writes nothing and asks again.
func TestTakeoverOfAChangedDocumentIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	do(t, c, "SET", "q", theArticlesDocument)
	before := snapshot(t, c)
	keys := o.Keys()
	reply, err := redis.Values(Script.Do(c, keys[0], keys[1], keys[2], keys[3], keys[4], `"usd"`, "0", "", "9",
		order(clock.UnixNano()), "", "", strings.Repeat("0", 40), "1", "bitcoin", order(1795552004e9), "1",
		"solana", order(1795552010e9), "150"))
	if err != nil {
		t.Fatal(err)
	}
	if status, err := redis.String(reply[0], nil); err != nil || status != "takeover" || !sameSnapshot(before, snapshot(t, c)) {
		t.Fatalf("reply %q; written: %v", status, !sameSnapshot(before, snapshot(t, c)))
	}
}

// TestTakeoverOfALargeDocumentIntegration: 50,000 coins written by another program
// are taken in one merge, within the time Redis allows a script.
func TestTakeoverOfALargeDocumentIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	o := opts()
	var b strings.Builder
	b.WriteString(`{"timestamp":1795552004,"quote":"usd","prices":[`)
	for i := 0; i < 50000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"coin-%05d","price":"%d.5e-3"}`, i, i)
	}
	b.WriteString("]}")
	do(t, c, "SET", "q", b.String())
	start := time.Now()
	out := write(t, c, o, metricWith(1795552010, map[string]interface{}{"coin-00007_usd": 7.0}))
	if out.Rebuilt != "takeover" || out.Written != 1 {
		t.Fatalf("outcome %+v", out)
	}
	t.Logf("took over 50,000 coins in %s", time.Since(start))
	d := must(readDoc(t, c, "q"))
	if len(d.Prices) != 50000 || prices(d)["coin-00007"] != "7" || prices(d)["coin-00123"] != "0.1235" {
		t.Fatalf("%d prices", len(d.Prices))
	}
	consistent(t, c, o)
}
