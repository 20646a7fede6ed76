package redis

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// With flush_interval = 0, the default, there is no timer: what Telegraf
// wrote is written to Redis as soon as it has all been read, so a price
// waits for Telegraf's flush only, not for one of ours as well. Stdin stays
// open all along: only the pause after each burst can cause the writes.
func TestWritesFollowTelegrafsFlushesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	r := newPlugin(t, srv.Addr, nil, func(r *Redis) { r.FlushInterval = 0 })
	in, feed := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), in, stats) }()

	for burst := 1; burst <= 3; burst++ {
		var lines strings.Builder
		for i := 0; i < 10; i++ {
			fmt.Fprintf(&lines, `{"fields":{"fields_c%d_usd":%d},"name":"m","tags":{},"timestamp":%d}`+"\n", i, burst, 1795552000+burst)
		}
		if _, err := io.WriteString(feed, lines.String()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			d, err := redis.Bytes(srv.Conn().Do("GET", "coingecko:rate:usd"))
			return err == nil && strings.Contains(string(d), fmt.Sprintf(`{"id":"c9","price":"%d"}`, burst))
		})
	}
	feed.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Each burst is written in one update, or two when the flusher woke
	// while the burst was being read.
	if u := stats.Updates.Load(); u < 3 || u > 6 {
		t.Errorf("%d updates for 3 bursts", u)
	}
}

// Hostile: a line that has not yet arrived whole is not a pause. The first
// half waits (nothing is written, nothing refused), the second completes
// it, and then it is written.
func TestAHalfLineIsNoPauseIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) { r.FlushInterval = 0 })
	in, feed := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), in, stats) }()

	line := `{"fields":{"fields_bitcoin_usd":97234.12},"name":"m","tags":{},"timestamp":1795552004}`
	if _, err := io.WriteString(feed, line[:40]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return stats.Lines.Load() == 0 }) // read, not yet a line
	if n, err := redis.Int(srv.Conn().Do("EXISTS", "coingecko:rate:usd")); err != nil || n != 0 || logs.String() != "" {
		t.Fatalf("half a line was written or refused: %s", logs)
	}
	if _, err := io.WriteString(feed, line[40:]+"\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		n, err := redis.Int(srv.Conn().Do("EXISTS", "coingecko:rate:usd"))
		return err == nil && n == 1
	})
	if d := stored(t, srv); len(d.Prices) != 1 || d.Prices[0].Price != "97234.12" {
		t.Fatalf("document %+v", d)
	}
	feed.Close()
	if err := <-done; err != nil || stats.Rejected.Load() != 0 {
		t.Fatalf("%v, %d rejected: %s", err, stats.Rejected.Load(), logs)
	}
}
