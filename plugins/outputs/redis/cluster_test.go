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
	"github.com/mna/redisc"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

func clusterPlugin(t *testing.T, c *redistest.Cluster, logs io.Writer, tune func(*Redis)) *Redis {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	r := New()
	r.Connection, r.Addresses = "cluster", c.Addrs()
	r.Timeout = config.Duration(time.Second)
	r.FlushInterval = config.Duration(20 * time.Millisecond)
	r.Log = newPlugin(t, "127.0.0.1:1", logs, nil).Log
	tune(r)
	if err := r.Init(); err != nil {
		t.Fatal(err)
	}
	return r
}

// clusterDo runs one command through a redisc cluster client, wherever
// the key lives now.
func clusterDo(t *testing.T, c *redistest.Cluster, cmd string, args ...interface{}) interface{} {
	t.Helper()
	cl := &redisc.Cluster{StartupNodes: runningAddrs(c), DialOptions: []redis.DialOption{redis.DialConnectTimeout(time.Second)}}
	defer cl.Close()
	conn, err := redisc.RetryConn(cl.Get(), 5, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r, err := conn.Do(cmd, args...)
	if err != nil {
		t.Fatalf("%s %v: %v", cmd, args, err)
	}
	return r
}

func runningAddrs(c *redistest.Cluster) []string {
	var a []string
	for _, n := range c.Nodes {
		if n.Running() {
			a = append(a, n.Addr)
		}
	}
	return a
}

// TestClusterFailoverIntegration: a 3-master, 3-replica Redis Cluster. Stream mode
// spreads entries over keys in different slots (pipelined per node), quote
// mode keeps one document; the master of one key is SIGKILLed mid-stream,
// its replica takes over, and both keep going without a restart. With
// wait_replicas = 1 a write counts only once a replica has it, so nothing
// written is lost in the failover; the promoted replica has no replica of
// its own until the dead node is restarted and rejoins, and until then
// the plugin holds that shard's writes.
func TestClusterFailoverIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	c := redistest.StartCluster(t, 3, 1)
	const n, hosts = 3000, 10

	t.Run("stream", func(t *testing.T) {
		logs := &syncBuffer{}
		r := clusterPlugin(t, c, logs, func(r *Redis) {
			r.Mode, r.Key, r.WaitReplicas = "stream", `s:{{.Tag "host"}}`, 1
		})
		pr, pw := io.Pipe()
		stats := &Stats{}
		done := make(chan error, 1)
		go func() { done <- r.Run(context.Background(), pr, stats) }()
		write := func(from, to int) {
			var b strings.Builder
			for i := from; i < to; i++ {
				fmt.Fprintf(&b, `{"fields":{"seq":%d},"name":"m","tags":{"host":"h%d"},"timestamp":%d}`+"\n", i, i%hosts, 1795552004+i)
			}
			if _, err := io.WriteString(pw, b.String()); err != nil {
				t.Fatal(err)
			}
		}
		write(0, 1000)
		deadline := time.Now().Add(20 * time.Second)
		for stats.Written.Load() != 1000 {
			if time.Now().After(deadline) {
				t.Fatalf("wrote %d of 1000:\n%s", stats.Written.Load(), logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
		victim := c.MasterFor("s:h3")
		victim.Kill()
		for i := 1000; i < n; i += 100 {
			write(i, i+100)
			time.Sleep(20 * time.Millisecond)
			if i == 2000 {
				// The operator brings the dead node back: it rejoins as the
				// new master's replica, and WAIT can be satisfied again.
				victim.Restart()
			}
		}
		pw.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v\n%s", err, logs)
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("not done after the failover:\n%s", logs)
		}
		c.WaitOK()
		seen := map[string]int{}
		for h := 0; h < hosts; h++ {
			entries, err := redis.Values(clusterDo(t, c, "XRANGE", fmt.Sprintf("s:h%d", h), "-", "+"), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				kv, err := redis.StringMap(e.([]interface{})[1], nil)
				if err != nil {
					t.Fatal(err)
				}
				seen[kv["seq"]]++
			}
		}
		dups := 0
		for i := 0; i < n; i++ {
			if seen[strconv.Itoa(i)] == 0 {
				t.Fatalf("seq %d lost in the failover\n%s", i, logs)
			}
			dups += seen[strconv.Itoa(i)] - 1
		}
		t.Logf("%d entries over %d slots through a master's SIGKILL: none lost, %d twice; %s", n, hosts, dups,
			strings.TrimSpace(lastLine(logs.String(), "is back after")))
	})

	// Every per-metric mode routes each key to its slot's node.
	t.Run("every mode", func(t *testing.T) {
		c.WaitOK()
		for _, mode := range []string{"hash", "stream", "list", "string", "publish"} {
			r := clusterPlugin(t, c, nil, func(r *Redis) {
				r.Mode, r.Key = mode, mode+`:{{.Tag "host"}}`
			})
			var b strings.Builder
			for i := 0; i < 100; i++ {
				fmt.Fprintf(&b, `{"fields":{"seq":%d},"name":"m","tags":{"host":"h%d"},"timestamp":%d}`+"\n", i, i%hosts, 1795552004+i)
			}
			stats := &Stats{}
			if err := r.Run(context.Background(), strings.NewReader(b.String()), stats); err != nil || stats.Written.Load() != 100 {
				t.Fatalf("%s: %v, wrote %d", mode, err, stats.Written.Load())
			}
			if mode == "publish" {
				continue
			}
			typ, err := redis.String(clusterDo(t, c, "TYPE", mode+":h7"), nil)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"hash": "hash", "stream": "stream", "list": "list", "string": "string"}[mode]
			if typ != want {
				t.Fatalf("%s: %s:h7 is a %q", mode, mode, typ)
			}
		}
	})

	t.Run("quote", func(t *testing.T) {
		c.WaitOK()
		logs := &syncBuffer{}
		r := clusterPlugin(t, c, logs, func(r *Redis) { r.Mode = "quote" })
		pr, pw := io.Pipe()
		stats := &Stats{}
		done := make(chan error, 1)
		go func() { done <- r.Run(context.Background(), pr, stats) }()
		price := func(i int) {
			fmt.Fprintf(pw, `{"fields":{"fields_bitcoin_usd":%d},"name":"kafka_consumer","tags":{},"timestamp":%d}`+"\n", i, 1795552004+i)
		}
		// Watch the quote all along: its timestamp must never go back.
		stopWatch := make(chan struct{})
		watched := make(chan error, 1)
		seeds := c.Addrs() // all of them: redisc skips the dead one
		go func() {
			last := int64(0)
			for {
				select {
				case <-stopWatch:
					watched <- nil
					return
				case <-time.After(20 * time.Millisecond):
				}
				cl := &redisc.Cluster{StartupNodes: seeds, DialOptions: []redis.DialOption{
					redis.DialConnectTimeout(200 * time.Millisecond), redis.DialReadTimeout(200 * time.Millisecond),
				}}
				conn, err := redisc.RetryConn(cl.Get(), 3, 50*time.Millisecond)
				if err == nil {
					doc, err := redis.String(conn.Do("GET", "coingecko:rate:usd"))
					if err == nil {
						var ts int64
						if _, err := fmt.Sscanf(doc, `{"timestamp":%d`, &ts); err != nil || ts < last {
							watched <- fmt.Errorf("the quote went back from %d to %d (%s)", last, ts, doc)
							conn.Close()
							cl.Close()
							return
						}
						last = ts
					}
					conn.Close()
				}
				cl.Close()
			}
		}()
		for i := 0; i < 20; i++ {
			price(i)
		}
		waitFor(t, func() bool { return stats.Accounted() == 20 })
		c.WaitReplicated("coingecko:rate:usd")
		c.MasterFor("coingecko:rate:usd").Kill()
		for i := 20; i < 60; i++ {
			price(i)
			time.Sleep(50 * time.Millisecond)
		}
		pw.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v\n%s", err, logs)
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("not done after the failover:\n%s", logs)
		}
		close(stopWatch)
		if err := <-watched; err != nil {
			t.Fatal(err)
		}
		c.WaitOK()
		got, err := redis.String(clusterDo(t, c, "GET", "coingecko:rate:usd"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, `"price":"59"`) {
			t.Fatalf("stored %s\n%s", got, logs)
		}
	})
}

func lastLine(s, with string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, with) {
			return l
		}
	}
	return ""
}
