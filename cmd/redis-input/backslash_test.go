package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// Issue 19, section 3, as the pipeline has it: stream entries in the typed
// layout whose tag, measurement or field key ends in a backslash, read by
// the real Telegraf through [[inputs.execd]]. The tag arrives cut (named
// once with W!); the entries Telegraf could not read back are never
// acknowledged (XPENDING shows them) and are named once with E!, where
// before they were written as lines Telegraf misread (disk\,id=c became
// the measurement "disk,id=c") or dropped with a parse error after the
// XACK. Telegraf's parser logs no error: every line it got was valid.
func TestTelegrafStreamBackslashesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	out, tg := runTelegraf(t, fmt.Sprintf(`
[[inputs.redis_consumer]]
  address = %q
  mode = "stream"
  key = "metrics"
  consumer = "c1"
  claim_idle = "200ms"
`, srv.Addr), "none")
	for _, e := range [][]any{
		{"1-1", "_measurement", "disk", "_time", "1795552004000000000", "#path", `C:\`, "v", "4"},
		{"2-1", "_measurement", `disk\`, "_time", "1795552004000000001", "#id", "c", "v", "4"},
		{"3-1", "_measurement", "disk", "_time", "1795552004000000002", "#id", "b", `dir\`, "2"},
		{"4-1", "_measurement", "disk", "_time", "1795552004000000003", "#path", `C:`, "v", "5"},
	} {
		srv.Do("XADD", append([]any{"metrics"}, e...)...)
	}
	good := []string{`disk,path=C: v=4 1795552004000000000`, `disk,path=C: v=5 1795552004000000003`}
	waitFor(t, "the good entries in Telegraf's output file", func() bool { return fileHas(out, good...) })
	waitFor(t, "only the bad entries pending", func() bool {
		v, err := redis.Values(srv.Conn().Do("XPENDING", "metrics", "telegraf", "-", "+", 10))
		if err != nil || len(v) != 2 {
			return false
		}
		return string(v[0].([]any)[0].([]byte)) == "2-1" && string(v[1].([]any)[0].([]byte)) == "3-1"
	})
	// Claimed again (claim_idle) and still named once.
	waitFor(t, "the bad entries claimed again", func() bool {
		v, err := redis.Values(srv.Conn().Do("XPENDING", "metrics", "telegraf", "-", "+", 10))
		return err == nil && len(v) == 2 && v[0].([]any)[3].(int64) >= 3 && v[1].([]any)[3].(int64) >= 3
	})
	if err := tg.Stop(15 * time.Second); err != nil {
		t.Fatalf("telegraf: %v", err)
	}
	log := tg.Output()
	for _, want := range []string{
		`entry 2-1: measurement "disk\\" ends in a backslash, which line protocol cannot carry`,
		`entry 3-1: metric "disk": field key "dir\\" ends in a backslash, which line protocol cannot carry`,
		`metric "disk": tag "path": value "C:\\" ends in a backslash, which line protocol cannot carry: written as "path"="C:"`,
	} {
		if n := strings.Count(log, want); n != 1 {
			t.Errorf("%d lines with %q", n, want)
		}
	}
	if strings.Count(log, " E! ") != 2 || strings.Contains(log, "parse error") {
		t.Errorf("Telegraf's log:\n%s", log)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != strings.Join(good, "\n") {
		t.Fatalf("Telegraf's output:\n%s\nwant:\n%s", got, strings.Join(good, "\n"))
	}
}
