package redis_consumer

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	outredis "github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestClusterPairThroughFailoverIntegration: on a 3-master, 3-replica Redis Cluster,
// redis-output writes a stream (wait_replicas = 1) while redis-input reads
// it through a consumer group; the stream's master is SIGKILLed mid-way
// and later restarted (it rejoins as a replica). Every entry is read at
// least once, and both plugins recover without a restart.
func TestClusterPairThroughFailoverIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	const n = 2000
	c := redistest.StartCluster(t, 3, 1)

	outLogs := &syncBuffer{}
	w := outredis.New()
	w.Connection, w.Addresses = "cluster", c.Addrs()
	w.Mode, w.Key, w.PayloadField, w.WaitReplicas = "stream", "pair", "payload", 1
	w.DataFormat = "influx"
	w.Timeout, w.FlushInterval = config.Duration(time.Second), config.Duration(20*time.Millisecond)
	w.Log = logger.NewWriter(outLogs, "outputs.redis")
	if err := w.Init(); err != nil {
		t.Fatal(err)
	}

	p, inLogs := newPlugin(t, "127.0.0.1:1", func(p *RedisConsumer) {
		p.Address, p.Connection, p.Addresses = "", "cluster", c.Addrs()
		p.Mode, p.Key, p.PayloadField, p.Consumer = "stream", "pair", "payload", "reader-1"
		p.Timeout = config.Duration(2 * time.Second)
	})
	r := start(t, p, RunOptions{})

	pr, pw := io.Pipe()
	wstats := &outredis.Stats{}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), pr, wstats) }()
	write := func(from, to int) {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "pair seq=%di %d\n", i, 1795552004000000000+int64(i))
		}
		if _, err := io.WriteString(pw, b.String()); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 500)
	deadline := time.Now().Add(20 * time.Second)
	for wstats.Written.Load() != 500 {
		if time.Now().After(deadline) {
			t.Fatalf("wrote %d of 500:\n%s", wstats.Written.Load(), outLogs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	victim := c.MasterFor("pair")
	victim.Kill()
	write(500, 1500)
	c.WaitOK() // the failover: a replica serves the slot
	victim.Restart()
	write(1500, n)
	pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("redis-output: %v\n%s", err, outLogs)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("redis-output not done:\n%s", outLogs)
	}
	waitFor(t, "every entry read", func() bool {
		seen := map[string]bool{}
		for _, l := range r.stdout.Lines() {
			seen[l] = true
		}
		for i := 0; i < n; i++ {
			if !seen[fmt.Sprintf("pair seq=%di %d", i, 1795552004000000000+int64(i))] {
				return false
			}
		}
		return true
	})
	t.Logf("%d entries through a master's SIGKILL: all read (%d lines with duplicates); input log:\n%s", n, len(r.stdout.Lines()), inLogs)
}
