package redis

import (
	"strings"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestByteOrderMarkIsNotABadLineIntegration: a stream saved by a Windows tool starts
// with a UTF-8 byte-order mark; its first metric used to be rejected.
func TestByteOrderMarkIsNotABadLineIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	for _, format := range []string{"json", "influx"} {
		srv.Do("FLUSHALL")
		input := "\xEF\xBB\xBF" + strings.Join(exampleLines(t, "steady.jsonl"), "\n") + "\n"
		want := expected(t, "steady")
		if format == "influx" {
			input = "\xEF\xBB\xBF" + strings.Join(exampleLines(t, "influx.lp"), "\n") + "\n"
			want = expected(t, "influx")
		}
		stats := runLines(t, srv, input, func(*Redis) {}) // the format is detected per line
		if stats.Rejected.Load() != 0 {
			t.Fatalf("%s: %d lines rejected", format, stats.Rejected.Load())
		}
		sameDoc(t, stored(t, srv), want)
	}
}
