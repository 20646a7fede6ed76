package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/commands"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

const cpuLines = `{"fields":{"usage":1.5,"n":3,"ok":true,"s":"x y"},"name":"cpu","tags":{"host":"web-01"},"timestamp":1795552004}
{"fields":{"usage":2.25},"name":"cpu","tags":{"host":"web-02"},"timestamp":1795552005}
{"fields":{"usage":3},"name":"cpu","tags":{"host":"web-01"},"timestamp":1795552006}
`

func runLines(t *testing.T, srv *redistest.Server, input string, tune func(*Redis)) *Stats {
	t.Helper()
	r := newPlugin(t, srv.Addr, nil, tune)
	stats := &Stats{}
	if err := r.Run(context.Background(), strings.NewReader(input), stats); err != nil {
		t.Fatal(err)
	}
	// Every metric is accounted for (in quote mode, written or superseded
	// by a newer price of the same flush).
	if stats.Accounted() != stats.Metrics.Load() {
		t.Fatalf("wrote %d of %d metrics, accounted for %d", stats.Written.Load(), stats.Metrics.Load(), stats.Accounted())
	}
	return stats
}

func TestHashModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	t.Run("typed", func(t *testing.T) {
		runLines(t, srv, cpuLines, func(r *Redis) {
			r.Mode, r.Key = "hash", `telegraf:{{.Name}}:{{.Tag "host"}}`
			r.Expire = config.Duration(time.Hour)
		})
		// Two metrics at one key merge: the later one's values, time and
		// name, the fields of both.
		got := mustStringMap(t)(c.Do("HGETALL", "telegraf:cpu:web-01"))
		want := map[string]string{"_measurement": "cpu", "_time": "1795552006000000000", "#host": "web-01",
			"usage": "3", "n": "3", "ok": "true", "s": `"x y"`}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("web-01: %v, want %v", got, want)
		}
		if got := mustStringMap(t)(c.Do("HGETALL", "telegraf:cpu:web-02")); got["usage"] != "2.25" || got["_time"] != "1795552005000000000" {
			t.Fatalf("web-02: %v", got)
		}
		if ttl := mustInt(t)(c.Do("PTTL", "telegraf:cpu:web-01")); ttl <= 0 {
			t.Fatalf("no expiry: %d", ttl)
		}
	})
	t.Run("flat", func(t *testing.T) {
		runLines(t, srv, cpuLines, func(r *Redis) {
			r.Mode, r.Key, r.Layout, r.IncludeTags = "hash", `flat:{{.Name}}:{{.Tag "host"}}`, "flat", true
		})
		got := mustStringMap(t)(c.Do("HGETALL", "flat:cpu:web-01"))
		want := map[string]string{"usage": "3", "n": "3", "ok": "true", "s": "x y", "host": "web-01"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("web-01: %v, want %v", got, want)
		}
	})
}

func TestStreamModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	firstEntry := func(t *testing.T, key string) map[string]string {
		t.Helper()
		entries, err := redis.Values(c.Do("XRANGE", key, "-", "+"))
		if err != nil || len(entries) != 3 {
			t.Fatalf("%d entries, %v", len(entries), err)
		}
		first := mustValues(t)(entries[0], nil)
		kv := mustStringMap(t)(first[1], nil)
		return kv
	}
	t.Run("typed", func(t *testing.T) {
		runLines(t, srv, cpuLines, func(r *Redis) { r.Mode, r.Key = "stream", "s:{{.Name}}" })
		got := firstEntry(t, "s:cpu")
		want := map[string]string{"_measurement": "cpu", "_time": "1795552004000000000", "#host": "web-01",
			"usage": "1.5", "n": "3", "ok": "true", "s": `"x y"`}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("first entry %v, want %v", got, want)
		}
	})
	t.Run("typed keeps integer types from line protocol", func(t *testing.T) {
		lines := "cpu,host=a n=3i,u=18446744073709551615u,f=3,neg=-0,tiny=1e-300,_id=\"a\\\"b\" -5\n" +
			"cpu n=1i 1\n" + "cpu n=2i 2\n"
		runLines(t, srv, lines, func(r *Redis) { r.Mode, r.Key = "stream", "lp:{{.Name}}" })
		got := firstEntry(t, "lp:cpu")
		want := map[string]string{"_measurement": "cpu", "_time": "-5", "#host": "a",
			"n": "3i", "u": "18446744073709551615u", "f": "3", "neg": "-0", "tiny": "1e-300", `\_id`: `"a\"b"`}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("first entry %v, want %v", got, want)
		}
	})
	t.Run("flat", func(t *testing.T) {
		runLines(t, srv, cpuLines, func(r *Redis) { r.Mode, r.Key, r.Layout = "stream", "f:{{.Name}}", "flat" })
		kv := firstEntry(t, "f:cpu")
		if kv["usage"] != "1.5" || kv["n"] != "3" || kv["ok"] != "true" || kv["s"] != "x y" || len(kv) != 4 {
			t.Fatalf("first entry %v", kv)
		}
	})
	t.Run("payload", func(t *testing.T) {
		runLines(t, srv, cpuLines, func(r *Redis) {
			r.Mode, r.Key, r.PayloadField, r.DataFormat = "stream", "p:{{.Name}}", "payload", "influx"
		})
		entries := mustValues(t)(c.Do("XRANGE", "p:cpu", "-", "+"))
		first := mustValues(t)(entries[0], nil)
		kv := mustStringMap(t)(first[1], nil)
		// Telegraf's influx serializer by default: the fields in the
		// metric's order.
		if kv["payload"] != `cpu,host=web-01 usage=1.5,n=3,ok=true,s="x y" 1795552004000000000` {
			t.Fatalf("payload %q", kv["payload"])
		}
	})
	t.Run("maxlen", func(t *testing.T) {
		var b strings.Builder
		for i := 0; i < 1000; i++ {
			fmt.Fprintf(&b, `{"fields":{"i":%d},"name":"seq","tags":{},"timestamp":%d}`+"\n", i, 1795552004+i)
		}
		runLines(t, srv, b.String(), func(r *Redis) { r.Mode, r.Key, r.StreamMaxlen = "stream", "m", 50 })
		n := mustInt(t)(c.Do("XLEN", "m"))
		// MAXLEN ~ trims whole macro nodes (100 entries by default).
		if n < 50 || n > 150 {
			t.Fatalf("XLEN %d with stream_maxlen 50", n)
		}
		last := mustValues(t)(c.Do("XREVRANGE", "m", "+", "-", "COUNT", 1))
		e := mustValues(t)(last[0], nil)
		kv := mustStringMap(t)(e[1], nil)
		if kv["i"] != "999" {
			t.Fatalf("last entry %v", kv)
		}
	})
}

func TestPublishModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	sub := redis.PubSubConn{Conn: srv.Conn()}
	if err := sub.PSubscribe("telegraf:*"); err != nil {
		t.Fatal(err)
	}
	if _, ok := sub.Receive().(redis.Subscription); !ok {
		t.Fatal("no subscription")
	}
	runLines(t, srv, cpuLines, func(r *Redis) { r.Mode, r.DataFormat = "publish", "json" })
	for i, want := range []string{
		`{"fields":{"n":3,"ok":true,"s":"x y","usage":1.5},"name":"cpu","tags":{"host":"web-01"},"timestamp":1795552004}`,
		`{"fields":{"usage":2.25},"name":"cpu","tags":{"host":"web-02"},"timestamp":1795552005}`,
	} {
		msg, ok := sub.Receive().(redis.Message)
		if !ok || msg.Channel != "telegraf:cpu" || string(msg.Data) != want {
			t.Fatalf("message %d: %+v", i, msg)
		}
	}
}

func TestListModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	runLines(t, srv, cpuLines, func(r *Redis) { r.Mode, r.Key, r.ListMaxLength = "list", "l", 2 })
	got := mustStrings(t)(srv.Conn().Do("LRANGE", "l", 0, -1))
	want := []string{"cpu,host=web-02 usage=2.25 1795552005000000000", "cpu,host=web-01 usage=3 1795552006000000000"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("list %q", got)
	}
}

func TestStringModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	runLines(t, srv, cpuLines, func(r *Redis) {
		r.Mode, r.Key, r.Expire = "string", `last:{{.Tag "host"}}`, config.Duration(time.Minute)
	})
	c := srv.Conn()
	if got := mustString(t)(c.Do("GET", "last:web-01")); got != "cpu,host=web-01 usage=3 1795552006000000000" {
		t.Fatalf("got %q", got)
	}
	if ttl := mustInt(t)(c.Do("PTTL", "last:web-02")); ttl <= 0 || ttl > 60000 {
		t.Fatalf("PTTL %d", ttl)
	}
}

// TestTagValuesCannotSteerTheKeyIntegration: a tag value with separators, hash-tag
// braces and glob characters stays inside its key segment.
func TestTagValuesCannotSteerTheKeyIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	line := `{"fields":{"v":1},"name":"cpu","tags":{"host":"x}:{admin:secret*"},"timestamp":1795552004}`
	runLines(t, srv, line, func(r *Redis) { r.Mode, r.Key = "hash", `telegraf:{{.Name}}:{{.Tag "host"}}` })
	keys := mustStrings(t)(srv.Conn().Do("KEYS", "*"))
	if len(keys) != 1 || keys[0] != "telegraf:cpu:x%7D%3A%7Badmin%3Asecret%2A" {
		t.Fatalf("keys %q", keys)
	}
}

// TestPipelineKeepsOnlyWhatFailedIntegration: one key of the wrong type refuses its
// command; the others are written at once, the refused one is retried
// until the key is fixed, and nothing is written twice.
func TestPipelineKeepsOnlyWhatFailedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	if _, err := c.Do("SET", "telegraf:cpu:web-02", "not a hash"); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) { r.Mode, r.Key = "stream", `telegraf:{{.Name}}:{{.Tag "host"}}` })
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), strings.NewReader(cpuLines), stats) }()
	waitFor(t, func() bool { return stats.Written.Load() == 2 })
	if n := mustInt(t)(c.Do("XLEN", "telegraf:cpu:web-01")); n != 2 {
		t.Fatalf("web-01 has %d entries", n)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "WRONGTYPE") })
	want := "E! [outputs.redis] Redis at " + srv.Addr + ` refused XADD to key "telegraf:cpu:web-02" (it holds a string, not a stream): WRONGTYPE`
	if !strings.Contains(logs.String(), want) {
		t.Fatalf("log:\n%s", logs)
	}
	if _, err := c.Do("DEL", "telegraf:cpu:web-02"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("not written after the key was fixed")
	}
	for key, want := range map[string]int{"telegraf:cpu:web-01": 2, "telegraf:cpu:web-02": 1} {
		if n := mustInt(t)(c.Do("XLEN", key)); n != want {
			t.Fatalf("%s has %d entries, want %d", key, n, want)
		}
	}
	if !strings.Contains(logs.String(), "I! [outputs.redis] Redis at "+srv.Addr+` took XADD to key "telegraf:cpu:web-02" at last`) {
		t.Fatalf("no recovery line:\n%s", logs)
	}
}

func TestPerMetricDryRun(t *testing.T) {
	r := New()
	r.Mode, r.Key, r.StreamMaxlen, r.Expire = "stream", `s:{{.Tag "host"}}`, 1000, config.Duration(time.Minute)
	r.Log = newPlugin(t, "127.0.0.1:1", nil, nil).Log
	if err := r.Init(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := r.DryRun(strings.NewReader(cpuLines), &out, &Stats{}); err != nil {
		t.Fatal(err)
	}
	want := `XADD s:web-01 MAXLEN ~ 1000 * _measurement cpu _time 1795552004000000000 #host web-01 usage 1.5 n 3 ok true s "\"x y\""
PEXPIRE s:web-01 60000
XADD s:web-02 MAXLEN ~ 1000 * _measurement cpu _time 1795552005000000000 #host web-02 usage 2.25
PEXPIRE s:web-02 60000
XADD s:web-01 MAXLEN ~ 1000 * _measurement cpu _time 1795552006000000000 #host web-01 usage 3
PEXPIRE s:web-01 60000
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestTypedLayoutRefusesWhatItCannotHoldIntegration: a metric with an empty field or
// tag key is refused with one error line naming it; the other metrics of
// the input are written. (NaN cannot come in: neither JSON nor line
// protocol has it.)
func TestTypedLayoutRefusesWhatItCannotHoldIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) { r.Mode, r.Key = "stream", "s" })
	stats := &Stats{}
	input := `{"fields":{"":1},"name":"cpu","tags":{},"timestamp":1}
{"fields":{"v":1},"name":"cpu","tags":{"":"x"},"timestamp":2}
{"fields":{"v":1},"name":"cpu","tags":{},"timestamp":3}
`
	if err := r.Run(context.Background(), strings.NewReader(input), stats); err != nil {
		t.Fatal(err)
	}
	if n := mustInt(t)(srv.Conn().Do("XLEN", "s")); n != 1 || stats.Rejected.Load() != 2 {
		t.Fatalf("%d entries, %d lines rejected", n, stats.Rejected.Load())
	}
	for _, want := range []string{
		`E! [outputs.redis] line 1: metric at 1000000000: metric "cpu": field with an empty key`,
		`E! [outputs.redis] line 2: metric at 2000000000: metric "cpu": tag with an empty key`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("no %q in\n%s", want, logs)
		}
	}
}

// TestLayoutOptionsAreCheckedAtStart: layout takes two values, include_tags
// only shapes the flat layout, and neither means anything without the
// pairs of hash and stream modes.
func TestLayoutOptionsAreCheckedAtStart(t *testing.T) {
	for _, c := range []struct {
		tune func(*Redis)
		want string
	}{
		{func(r *Redis) { r.Mode, r.Layout = "stream", "json" }, `option layout: "json" is not supported`},
		{func(r *Redis) { r.Mode, r.IncludeTags = "hash", true }, `option include_tags: only read with layout = "flat"`},
		{func(r *Redis) { r.Mode, r.Layout = "list", "flat" }, `option layout: only read in hash and stream modes`},
		{func(r *Redis) { r.Mode, r.Layout, r.PayloadField = "stream", "flat", "p" }, `option layout: not read with payload_field`},
		{
			func(r *Redis) { r.Mode, r.Layout, r.IncludeTags, r.PayloadField = "stream", "flat", true, "p" },
			`option include_tags: only read with modes "hash" and "stream" (without payload_field)`,
		},
	} {
		r := New()
		r.Log = newPlugin(t, "127.0.0.1:1", nil, nil).Log
		c.tune(r)
		if err := r.Init(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want %q", err, c.want)
		}
	}
	r := New()
	r.Mode, r.Layout, r.IncludeTags = "hash", "flat", true
	r.Log = newPlugin(t, "127.0.0.1:1", nil, nil).Log
	if err := r.Init(); err != nil {
		t.Fatal(err)
	}
}

// Hostile: refused commands in the first and the last of several pipelined
// chunks (two chunks are in flight at once). Everything else is written
// once, in the first write; the refused ones stay, are retried until their
// keys are fixed, and nothing is written twice.
func TestPipelineChunksKeepOnlyWhatFailedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	n := 3*commands.PipelineChunk + 7
	var in strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, `{"fields":{"v":%d},"name":"cpu","tags":{"host":"h%05d"},"timestamp":1795552004}`+"\n", i, i)
	}
	bad := []string{"telegraf:cpu:h00003", fmt.Sprintf("telegraf:cpu:h%05d", n-2)}
	for _, k := range bad {
		if _, err := c.Do("SET", k, "not a list"); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Key = "list", `telegraf:{{.Name}}:{{.Tag "host"}}`
		r.MetricBatchSize, r.MaxUndeliveredMetrics = n, n // one write of every chunk
	})
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), strings.NewReader(in.String()), stats) }()
	waitFor(t, func() bool { return stats.Written.Load() == int64(n-2) })
	waitFor(t, func() bool { return strings.Contains(logs.String(), "WRONGTYPE") })
	for _, k := range bad {
		if _, err := c.Do("DEL", k); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("not written after the keys were fixed")
	}
	total, err := redis.Int(c.Do("EVAL", `local n = 0
for _, k in ipairs(redis.call('KEYS', 'telegraf:cpu:*')) do
  local l = redis.call('LLEN', k)
  if l ~= 1 then return redis.error_reply(k .. ' has ' .. l) end
  n = n + l
end
return n`, 0))
	if err != nil || total != n {
		t.Fatalf("%d entries (%v), want %d, one a key", total, err, n)
	}
	if w := stats.Written.Load(); w != int64(n) {
		t.Fatalf("written %d, want %d", w, n)
	}
}

// TestPerMetricDryRunEdges: a dry run reads lines as a run does: a line
// over max_line_size and a bad line are refused with their numbers and
// the rest printed, batches split at metric_batch_size, and a failing
// stdout stops the run with its error.
func TestPerMetricDryRunEdges(t *testing.T) {
	logs := &syncBuffer{}
	r := newPlugin(t, "127.0.0.1:1", logs, func(r *Redis) {
		r.Mode, r.Key = "list", "l"
		r.MetricBatchSize = 2
		r.MaxLineSize = 200
	})
	lines := strings.Split(strings.TrimSuffix(cpuLines, "\n"), "\n")
	input := lines[0] + "\n" +
		`{"fields":{"usage":1},"name":"cpu","tags":{"host":"` + strings.Repeat("x", 300) + `"},"timestamp":1}` + "\n" +
		"not a metric\n" +
		lines[1] + "\n" + lines[2] // the last line without its newline
	var out strings.Builder
	stats := &Stats{}
	if err := r.DryRun(strings.NewReader(input), &out, stats); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "RPUSH l "); got != 3 {
		t.Fatalf("%d RPUSH, want 3:\n%s", got, out.String())
	}
	if stats.Lines.Load() != 5 || stats.Rejected.Load() != 2 || stats.Metrics.Load() != 3 || stats.Written.Load() != 3 {
		t.Fatalf("lines %d rejected %d metrics %d written %d", stats.Lines.Load(), stats.Rejected.Load(), stats.Metrics.Load(), stats.Written.Load())
	}
	for _, want := range []string{"E! [outputs.redis] line 2: ", "E! [outputs.redis] line 3: "} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("no %q in\n%s", want, logs)
		}
	}

	// stdout fails at its first write: the error comes back, and no
	// later batch is printed.
	w := &failingWriter{}
	if err := r.DryRun(strings.NewReader(cpuLines+cpuLines), w, &Stats{}); err == nil || !strings.Contains(err.Error(), "stdout closed") {
		t.Fatalf("got %v, want the write error", err)
	}
	if w.writes != 1 {
		t.Fatalf("%d writes after the first failed", w.writes-1)
	}
}

// failingWriter fails every write, counting them.
type failingWriter struct{ writes int }

func (w *failingWriter) Write([]byte) (int, error) {
	w.writes++
	return 0, errors.New("stdout closed")
}
