package roundtrip

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/inputs/redis_consumer"
	redisout "github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
)

// write runs redis-output over line protocol lines with tune applied.
func (h *harness) write(t *testing.T, lines string, tune func(*redisout.Redis)) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	out := redisout.New()
	out.Address = h.srv.Addr
	out.Log = logger.NewWriter(logs, "outputs.redis")
	tune(out)
	if err := out.Init(); err != nil {
		t.Fatal(err)
	}
	stats := &redisout.Stats{}
	if err := out.Run(context.Background(), strings.NewReader(lines), stats); err != nil || stats.Rejected.Load() != 0 {
		t.Fatalf("redis-output: %v\n%s", err, logs)
	}
}

// read runs redis-input once with tune applied and parses what it wrote.
func (h *harness) read(t *testing.T, tune func(*redis_consumer.RedisConsumer)) []telegraf.Metric {
	t.Helper()
	logs := &syncbuf.Buffer{}
	in := redis_consumer.New()
	in.Address = h.srv.Addr
	in.Log = logger.NewWriter(logs, "inputs.redis_consumer")
	tune(in)
	if err := in.Init(); err != nil {
		t.Fatal(err)
	}
	stdout := &syncbuf.Buffer{}
	if err := in.Run(context.Background(), nil, stdout, redis_consumer.RunOptions{Once: true}); err != nil {
		t.Fatalf("redis-input: %v\n%s", err, logs)
	}
	got, err := parse(stdout.String())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

const upgradeLine = `cpu,host=a n=3i,ok=true,s="x y",usage=1.5 1795552004123456789` + "\n"

// TestUpgradeFlatStreamStillReadIntegration: a stream holding entries of the flat
// layout (what redis-output wrote before the typed layout, and writes with
// layout = "flat") followed by typed ones, as after an upgrade of the
// writer, is read whole: each entry by its own layout.
func TestUpgradeFlatStreamStillReadIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	h := newHarness(t)
	h.write(t, upgradeLine, func(r *redisout.Redis) {
		r.Mode, r.Key, r.Layout, r.IncludeTags = "stream", "up", "flat", true
	})
	h.write(t, upgradeLine, func(r *redisout.Redis) { r.Mode, r.Key = "stream", "up" })
	entries, err := redis.Values(h.conn.Do("XRANGE", "up", "-", "+"))
	if err != nil || len(entries) != 2 {
		t.Fatalf("%d entries: %v", len(entries), err)
	}
	first, err := redis.Values(entries[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := redis.String(first[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := strconv.ParseInt(strings.Split(id, "-")[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}

	got := h.read(t, func(p *redis_consumer.RedisConsumer) {
		p.Mode, p.Key, p.TagKeys = "stream", "up", []string{"host"}
	})
	want := []telegraf.Metric{
		// Flat: named by measurement, every number a float, other values
		// strings, tags only as tag_keys make them, timed by the entry ID.
		metric.New("redis_consumer", map[string]string{"host": "a"},
			map[string]any{"n": 3.0, "ok": "true", "s": "x y", "usage": 1.5}, time.UnixMilli(ms)),
		// Typed: the metric as it was written.
		metric.New("cpu", map[string]string{"host": "a"},
			map[string]any{"n": int64(3), "ok": true, "s": "x y", "usage": 1.5}, time.Unix(0, 1795552004123456789)),
	}
	if diff := compare(got, want); diff != "" {
		t.Fatal(diff)
	}
}

// TestHashMergesTheMetricsOfOneKeyIntegration: HSET merges, so a hash read back is
// one metric: the name, time and tag values of the metric written last,
// the tags and fields of all of them, each field's latest value. The
// README says so; a key template that gives each series its own key
// avoids it.
func TestHashMergesTheMetricsOfOneKeyIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	h := newHarness(t)
	h.write(t, "cpu,host=a,dc=eu usage=1.5,n=1i 2000\ncpu,host=b usage=2.5,up=true 1000\n",
		func(r *redisout.Redis) { r.Mode, r.Key = "hash", "merged" })
	got := h.read(t, func(p *redis_consumer.RedisConsumer) { p.Mode, p.Key = "keys", "merged" })
	want := []telegraf.Metric{metric.New("cpu", map[string]string{"host": "b", "dc": "eu"},
		map[string]any{"usage": 2.5, "n": int64(1), "up": true}, time.Unix(0, 1000))}
	if diff := compare(got, want); diff != "" {
		t.Fatal(diff)
	}
}
