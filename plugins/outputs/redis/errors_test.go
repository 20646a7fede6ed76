package redis

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestRedisErrorRepliesIntegration: each error Redis can answer a write with gets
// one clear log line and the right action. OOM and READONLY (a replica
// after a failover) are waited out; NOSCRIPT (the script cache emptied)
// is answered by sending the script again; nothing is lost.
func TestRedisErrorRepliesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	cases := []struct {
		name, log   string
		level       string
		fault, heal func(srv, other *redistest.Server)
	}{
		{"OOM", "OOM command not allowed", "W! ",
			func(srv, _ *redistest.Server) {
				srv.Do("CONFIG", "SET", "maxmemory-policy", "noeviction")
				srv.Do("CONFIG", "SET", "maxmemory", "1")
			},
			func(srv, _ *redistest.Server) { srv.Do("CONFIG", "SET", "maxmemory", "0") }},
		{"READONLY", "READONLY", "W! ",
			func(srv, other *redistest.Server) {
				host, port, _ := strings.Cut(other.Addr, ":")
				srv.Do("REPLICAOF", host, port)
				waitFor(t, func() bool {
					info, err := redis.String(srv.Conn().Do("INFO", "replication"))
					return err == nil && strings.Contains(info, "master_link_status:up")
				})
			},
			func(srv, _ *redistest.Server) { srv.Do("REPLICAOF", "NO", "ONE") }},
		{"NOSCRIPT", "", "",
			func(srv, _ *redistest.Server) { srv.Do("SCRIPT", "FLUSH") },
			func(*redistest.Server, *redistest.Server) {}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, other := redistest.Start(t), redistest.Start(t)
			logs := &syncBuffer{}
			pr, pw := io.Pipe()
			r := newPlugin(t, srv.Addr, logs, func(r *Redis) { r.Timeout = config.Duration(time.Second) })
			stats := &Stats{}
			done := make(chan error, 1)
			go func() { done <- r.Run(context.Background(), pr, stats) }()

			line := func(ts int, price float64) string {
				return fmt.Sprintf(`{"fields":{"fields_bitcoin_usd":%v},"name":"kafka_consumer","tags":{},"timestamp":%d}`+"\n", price, ts)
			}
			if _, err := pw.Write([]byte(line(1795552004, 1))); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return stats.Written.Load() == 1 })
			c.fault(srv, other)
			if _, err := pw.Write([]byte(line(1795552005, 2))); err != nil {
				t.Fatal(err)
			}
			if c.log != "" {
				waitFor(t, func() bool { return strings.Contains(logs.String(), c.log) })
				c.heal(srv, other)
			}
			_ = pw.Close()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%v\n%s", err, logs)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("not written after the fault healed:\n%s", logs)
			}
			got, err := redis.String(srv.Conn().Do("GET", "coingecko:rate:usd"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got, `"price":"2"`) {
				t.Fatalf("stored %s\n%s", got, logs)
			}
			out := logs.String()
			if c.log != "" && (strings.Count(out, c.level) != 1 || !strings.Contains(out, "is back after")) {
				t.Fatalf("want one %q line and a recovery line:\n%s", c.level, out)
			}
			if c.log == "" && strings.Contains(out, "E! ") {
				t.Fatalf("NOSCRIPT must be handled quietly:\n%s", out)
			}
		})
	}
}
