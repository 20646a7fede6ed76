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

	"github.com/telegraf-redis/telegraf-redis/plugins/inputs/redis_consumer"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestSentinelFailoverIntegration: a master, a replica and three sentinels. The
// plugin finds the master through the sentinels; the master is SIGKILLed
// while prices stream in; the sentinels promote the replica and the plugin
// follows without a restart. The quote ends with the newest prices. With
// wait_replicas = 1, what counted as written was on the replica before
// the master died. The promoted master has no replica until the old one
// comes back, so it is restarted (and rejoins as a replica).
func TestSentinelFailoverIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	master := redistest.Start(t)
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	waitFor(t, func() bool {
		info, err := redis.String(replica.Conn().Do("INFO", "replication"))
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	var sentinels []string
	for i := 0; i < 3; i++ {
		sentinels = append(sentinels, redistest.StartSentinel(t, "prices", master).Addr)
	}
	logs := &syncBuffer{}
	r := New()
	r.Connection, r.Addresses, r.SentinelMaster = "sentinel", sentinels, "prices"
	r.WaitReplicas = 1 // written = on the replica too
	r.Timeout = config.Duration(500 * time.Millisecond)
	r.FlushInterval = config.Duration(20 * time.Millisecond)
	r.Log = newPlugin(t, "127.0.0.1:1", logs, nil).Log
	if err := r.Init(); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	price := func(i int) {
		fmt.Fprintf(pw, `{"fields":{"fields_bitcoin_usd":%d},"name":"kafka_consumer","tags":{},"timestamp":%d}`+"\n", i, 1795552004+i)
	}
	for i := 0; i < 20; i++ {
		price(i)
	}
	waitFor(t, func() bool { return stats.Accounted() == 20 })
	// wait_replicas: what counts as written is on the replica already.
	if got, err := redis.String(replica.Conn().Do("GET", "coingecko:rate:usd")); err != nil || !strings.Contains(got, `"price":"19"`) {
		t.Fatalf("written but not replicated: %s", got)
	}
	master.Kill()
	for i := 20; i < 30; i++ { // while there is no master
		price(i)
	}
	redistest.Promoted(t, replica) // the sentinels' failover
	master.Restart()               // rejoins; the sentinels make it a replica of the new master
	for i := 30; i < 40; i++ {
		price(i)
	}
	pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("not written after the failover:\n%s", logs)
	}
	got, err := redis.String(replica.Conn().Do("GET", "coingecko:rate:usd"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, `"price":"39"`) {
		t.Fatalf("the new master holds %s\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), "is back after") {
		t.Fatalf("no recovery line:\n%s", logs)
	}
	// Every per-metric mode goes through the sentinels to the new master.
	for _, mode := range []string{"hash", "stream", "list", "string", "publish"} {
		m := New()
		m.Connection, m.Addresses, m.SentinelMaster = "sentinel", sentinels, "prices"
		m.Mode, m.Key, m.Log = mode, mode+`:{{.Tag "host"}}`, r.Log
		if err := m.Init(); err != nil {
			t.Fatal(err)
		}
		in := `{"fields":{"v":1},"name":"m","tags":{"host":"a"},"timestamp":1795552004}` + "\n"
		st := &Stats{}
		if err := m.Run(context.Background(), strings.NewReader(in), st); err != nil || st.Written.Load() != 1 {
			t.Fatalf("%s through the sentinels: %v", mode, err)
		}
		if mode != "publish" {
			if n, err := redis.Int(replica.Conn().Do("EXISTS", mode+":a")); err != nil || n != 1 {
				t.Fatalf("%s: %s:a not on the new master", mode, mode)
			}
		}
	}

	// redis-input finds the new master the same way and reads the quote.
	in := redis_consumer.New()
	in.Connection, in.Addresses, in.SentinelMaster = "sentinel", sentinels, "prices"
	in.Log = r.Log
	if err := in.Init(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := in.Run(context.Background(), nil, &out, redis_consumer.RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	if want := "currency_rate,id=bitcoin,quote=usd price=39 1795552043000000000\n"; out.String() != want {
		t.Fatalf("redis-input read %q, want %q", out.String(), want)
	}
	t.Logf("failover followed: %s", strings.TrimSpace(logs.String()))
}
