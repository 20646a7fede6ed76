package redis

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/commands"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/faultproxy"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

func seqLine(i int) string {
	return fmt.Sprintf(`{"fields":{"seq":%d},"name":"m","tags":{},"timestamp":%d}`+"\n", i, 1795552004+i)
}

func seqLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(seqLine(i))
	}
	return b.String()
}

// streamSeqs counts each seq in the stream.
func streamSeqs(t *testing.T, srv *redistest.Server, key string) map[string]int {
	t.Helper()
	entries, err := redis.Values(srv.Conn().Do("XRANGE", key, "-", "+"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range entries {
		kv, err := redis.StringMap(e.([]interface{})[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		seen[kv["seq"]]++
	}
	return seen
}

// TestStalledNetworkIntegration: the network to Redis stops carrying bytes without
// closing (a proxy that stalls). Reads time out after `timeout`, the
// plugin reconnects with backoff (new connections stall too, and time
// out as well), and when the network is back everything is written. Then
// every connection is cut: the plugin redials and goes on.
func TestStalledNetworkIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	proxy := faultproxy.Start(t, srv.Addr)
	logs := &syncBuffer{}
	r := newPlugin(t, proxy.Addr, logs, func(r *Redis) {
		r.Mode, r.Key, r.Timeout = "stream", "s", config.Duration(300*time.Millisecond)
	})
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	if _, err := io.WriteString(pw, seqLines(0, 100)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return stats.Written.Load() == 100 })

	proxy.Stall()
	if _, err := io.WriteString(pw, seqLines(100, 200)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "i/o timeout") })
	dialed := proxy.Accepted()
	waitFor(t, func() bool { return proxy.Accepted() >= dialed+2 }) // reconnections that stall as well
	proxy.Resume()
	waitFor(t, func() bool { return stats.Written.Load() == 200 })

	// Cut: every connection closed under the plugin's feet.
	proxy.Cut()
	if _, err := io.WriteString(pw, seqLines(200, 300)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("not done after the network came back:\n%s", logs)
	}
	seen := streamSeqs(t, srv, "s")
	for i := 0; i < 300; i++ {
		if seen[strconv.Itoa(i)] == 0 {
			t.Fatalf("seq %d lost\n%s", i, logs)
		}
	}
	if !strings.Contains(logs.String(), "is back after") {
		t.Fatalf("no recovery line:\n%s", logs)
	}
}

// TestSIGTERMDuringSlowRedisIntegration: a stop while Redis does not answer ends
// within `timeout`, saying how many metrics were not written.
func TestSIGTERMDuringSlowRedisIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	proxy := faultproxy.Start(t, srv.Addr)
	logs := &syncBuffer{}
	r := newPlugin(t, proxy.Addr, logs, func(r *Redis) {
		r.Mode, r.Key, r.Timeout = "stream", "s", config.Duration(time.Second)
	})
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, pr, stats) }()
	if _, err := io.WriteString(pw, seqLines(0, 10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return stats.Written.Load() == 10 })
	proxy.Stall()
	if _, err := io.WriteString(pw, seqLines(10, 60)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return stats.Lines.Load() == 60 })
	waitFor(t, func() bool { return proxy.Held() > 0 }) // a write is in flight, stalled
	start := time.Now()
	cancel()
	err := <-done
	took := time.Since(start)
	// What the stalled write carried may be in Redis; the rest is not:
	// the two are told apart (the stalled write used to count as lost).
	notWritten, unknown := stats.NotWritten.Load(), stats.Unknown.Load()
	want := fmt.Sprintf("%d metrics read from stdin were not written to Redis, and %d were sent without a reply", notWritten, unknown)
	if err == nil || !strings.Contains(err.Error(), want) || unknown < 1 || notWritten+unknown != 50 {
		t.Fatalf("error %v (not written %d, unknown %d)\n%s", err, notWritten, unknown, logs)
	}
	if !strings.Contains(logs.String(),
		fmt.Sprintf("E! [outputs.redis] stopping with %d metrics not written to Redis and %d sent without a reply", notWritten, unknown)) {
		t.Fatalf("log:\n%s", logs)
	}
	// The grace is `timeout`; a write stalled at that moment adds at most
	// one more `timeout` before its deadline fires.
	if took > 2*time.Second+500*time.Millisecond {
		t.Fatalf("stopping took %s with timeout 1s", took)
	}
}

// TestRedisKilledUnder100kMetricsIntegration: Redis (AOF, fsync always) is SIGKILLed
// and restarted while 100,000 metrics stream in. Every metric arrives;
// one may arrive twice only if Redis applied it and died before replying,
// at most a pipeline chunk.
func TestRedisKilledUnder100kMetricsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	const n = 100000
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Key, r.Timeout = "stream", "s", config.Duration(time.Second)
	})
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	go func() {
		for i := 0; i < n; i += 1000 {
			if _, err := io.WriteString(pw, seqLines(i, i+1000)); err != nil {
				t.Error(err)
				break
			}
		}
		pw.Close()
	}()
	waitFor(t, func() bool { return stats.Written.Load() > n/3 })
	srv.Kill()
	waitFor(t, func() bool { return strings.Contains(logs.String(), "is unavailable") }) // the outage seen
	srv.Restart()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("not done:\n%s", logs)
	}
	seen := streamSeqs(t, srv, "s")
	dups := 0
	for i := 0; i < n; i++ {
		c := seen[strconv.Itoa(i)]
		if c == 0 {
			t.Fatalf("seq %d lost\n%s", i, logs)
		}
		dups += c - 1
	}
	if dups > commands.PipelineChunk {
		t.Fatalf("%d duplicates", dups)
	}
	t.Logf("%d metrics through a Redis SIGKILL: none lost, %d written twice", n, dups)
}
