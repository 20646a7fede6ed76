package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestExecdWaitsForRedisAtStartIntegration: under execd the program does
// not stop when Redis is not up at start (Telegraf's startup rules are
// for plugins built in): it says so once, keeps running, and reads once
// Redis comes up.
func TestExecdWaitsForRedisAtStartIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t)
	srv.Kill()
	conf := writeConfig(t, fmt.Sprintf("[[inputs.redis_consumer]]\n  address = %q\n  timeout = \"500ms\"\n", srv.Addr))
	p := startProc(t, nil, "-config", conf, "-poll_interval", "50ms")
	waitFor(t, "the outage line", func() bool {
		return strings.Contains(p.stderr.String(), "W! [inputs.redis_consumer] Redis at "+srv.Addr+" is unavailable")
	})
	srv.Restart()
	srv.Do("SET", "coingecko:rate:usd", doc)
	waitFor(t, "the quote read", func() bool { return strings.Contains(p.stdout.String(), "bitcoin") })
	p.stdin.Close()
	if err := p.wait(t); err != nil {
		t.Fatal(err)
	}
}
