package redis_consumer

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// waitSubscribed waits until Redis counts n subscriptions (channels and
// patterns) of ours, so that a PUBLISH is not lost.
func waitSubscribed(t *testing.T, srv *redistest.Server, channel string) {
	t.Helper()
	waitFor(t, "the subscription to "+channel, func() bool {
		c, err := redis.Dial("tcp", srv.Addr)
		if err != nil {
			return false
		}
		defer c.Close()
		v, err := redis.Values(c.Do("PUBSUB", "NUMSUB", channel))
		return err == nil && len(v) == 2 && v[1].(int64) > 0
	})
}

func waitPatterns(t *testing.T, srv *redistest.Server) {
	t.Helper()
	waitFor(t, "the pattern subscription", func() bool {
		c, err := redis.Dial("tcp", srv.Addr)
		if err != nil {
			return false
		}
		defer c.Close()
		n, err := redis.Int(c.Do("PUBSUB", "NUMPAT"))
		return err == nil && n > 0
	})
}

func TestSubscribeInfluxIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	p, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Channels, p.Patterns = "subscribe", []string{"metrics"}, []string{"sensors:*"}
		p.ChannelTag = "channel"
	})
	r := start(t, p, RunOptions{})
	waitSubscribed(t, srv, "metrics")
	waitPatterns(t, srv)
	srv.Do("PUBLISH", "metrics", "cpu,host=a usage=0.5,count=3i 1795552004000000000\nmem,host=a free=12u 1795552005000000000")
	srv.Do("PUBLISH", "sensors:kitchen", `climate,room=kitchen temp=21.5,ok=true,note="a b" 1795552006000000000`)
	before := time.Now().UnixNano()
	srv.Do("PUBLISH", "metrics", "no_time value=1") // stamped when received
	got := waitLines(t, r.stdout, 4)
	sameLines(t, got[:3],
		"climate,channel=sensors:kitchen,room=kitchen note=\"a b\",ok=true,temp=21.5 1795552006000000000",
		"cpu,channel=metrics,host=a count=3i,usage=0.5 1795552004000000000",
		"mem,channel=metrics,host=a free=12u 1795552005000000000")
	series, ts := lastField(t, got[3])
	if series != "no_time,channel=metrics value=1" || ts < before || ts > time.Now().UnixNano() {
		t.Fatalf("line without a timestamp: %q", got[3])
	}
}

// lastField splits a line before its timestamp.
func lastField(t *testing.T, line string) (string, int64) {
	t.Helper()
	i := strings.LastIndexByte(line, ' ')
	ts, err := strconv.ParseInt(line[i+1:], 10, 64)
	if err != nil {
		t.Fatalf("line %q: timestamp: %v", line, err)
	}
	return line[:i], ts
}

func TestSubscribeJSONAndValueIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	p, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Channels, p.ChannelTag = "subscribe", []string{"json"}, "source"
		withFormat(p, `data_format = "json"
json_time_key = "ts"
json_time_format = "unix"
tag_keys = ["id"]`)
		p.Measurement = "price"
	})
	r := start(t, p, RunOptions{})
	waitSubscribed(t, srv, "json")
	srv.Do("PUBLISH", "json", `[{"id":"bitcoin","usd":97234.12,"ts":1795552004},{"id":"ethereum","usd":3391.45,"ts":1795552004}]`)
	sameLines(t, waitLines(t, r.stdout, 2),
		"price,id=bitcoin,source=json usd=97234.12 1795552004000000000",
		"price,id=ethereum,source=json usd=3391.45 1795552004000000000")

	srv2 := redistest.Start(t)
	p2, _ := newPlugin(t, srv2.Addr, func(p *RedisConsumer) {
		p.Mode, p.Channels, p.ChannelTag = "subscribe", []string{"v"}, ""
		withFormat(p, "data_format = \"value\"\ndata_type = \"float\"")
	})
	r2 := start(t, p2, RunOptions{})
	waitSubscribed(t, srv2, "v")
	srv2.Do("PUBLISH", "v", "42.5")
	got := waitLines(t, r2.stdout, 1)
	if !strings.HasPrefix(got[0], "redis_consumer value=42.5 ") {
		t.Fatalf("value: %q", got)
	}
}

func TestSubscribeBadPayloadIsOneErrorLineIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Channels = "subscribe", []string{"metrics"}
	})
	r := start(t, p, RunOptions{})
	waitSubscribed(t, srv, "metrics")
	srv.Do("PUBLISH", "metrics", "cpu usage= 1\n"+strings.Repeat("x", 300))
	srv.Do("PUBLISH", "metrics", "")
	srv.Do("PUBLISH", "metrics", "cpu usage=1 1795552004000000000")
	sameLines(t, waitLines(t, r.stdout, 1), "cpu usage=1 1795552004000000000")
	log := logs.String()
	if count(log, "E! ") != 2 ||
		!strings.Contains(log, `E! [inputs.redis_consumer] channel "metrics": message skipped: `+
			`metric parse error: expected field at 1:11: "cpu usage= 1": "cpu usage= 1\nxxx`) ||
		!strings.Contains(log, `E! [inputs.redis_consumer] channel "metrics": message skipped: no metric in the data: ""`) {
		t.Fatalf("log:\n%s", log)
	}
	line := strings.Split(log, "\n")[1]
	if strings.Count(line, "x") > 100 {
		t.Fatalf("more than the first 100 bytes: %s", line)
	}
}

func TestSubscribeOnceReturnsAfterOneMessageIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	p, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) { p.Mode, p.Channels = "subscribe", []string{"m"} })
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background(), nil, out, RunOptions{Once: true}) }()
	waitSubscribed(t, srv, "m")
	srv.Do("PUBLISH", "m", "a x=1 1")
	srv.Do("PUBLISH", "m", "a x=2 2")
	select {
	case err := <-done:
		if err != nil || out.String() != "a x=1 1\n" {
			t.Fatalf("%v: %q", err, out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("-once did not return")
	}
}

// Redis restarts: the subscriber reconnects and subscribes again by itself.
func TestSubscribeReconnectsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Channels = "subscribe", []string{"m"}
		p.Timeout = config.Duration(500 * time.Millisecond)
	})
	r := start(t, p, RunOptions{})
	waitSubscribed(t, srv, "m")
	srv.Restart()
	waitSubscribed(t, srv, "m")
	srv.Do("PUBLISH", "m", "a x=1 1")
	sameLines(t, waitLines(t, r.stdout, 1), "a x=1 1")
	waitFor(t, "the recovery line", func() bool {
		return strings.Contains(logs.String(), "I! [inputs.redis_consumer] Redis at "+srv.Addr+" is back")
	})
	if count(logs.String(), "W! [inputs.redis_consumer] Redis at "+srv.Addr+" is unavailable") != 1 {
		t.Fatalf("log:\n%s", logs)
	}
}

// A connection that goes silent without being closed (here the server is
// frozen with SIGSTOP) is noticed through the PINGs within `timeout`.
func TestSubscribeNoticesADeadConnectionIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	info, err := redis.String(srv.Conn().Do("INFO", "server"))
	if err != nil {
		t.Fatal(err)
	}
	pid := 0
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "process_id:"); ok {
			if pid, err = strconv.Atoi(v); err != nil {
				t.Fatalf("INFO process_id: %v", err)
			}
		}
	}
	if pid == 0 {
		t.Fatal("no process_id in INFO")
	}
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Channels = "subscribe", []string{"m"}
		p.Timeout = config.Duration(400 * time.Millisecond)
	})
	start(t, p, RunOptions{})
	waitSubscribed(t, srv, "m")
	// Idle but alive: the PONGs keep the connection, no reconnection.
	time.Sleep(1200 * time.Millisecond)
	if strings.Contains(logs.String(), "unavailable") {
		t.Fatalf("an idle connection was taken for dead:\n%s", logs)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	// However the test ends, the server runs again before redistest's
	// cleanup (registered earlier, run later) stops it.
	t.Cleanup(func() {
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Error(err)
		}
	})
	waitFor(t, "the outage warning", func() bool { return strings.Contains(logs.String(), "is unavailable") })
	if took := time.Since(frozen); took > 1200*time.Millisecond {
		t.Fatalf("noticed after %s with timeout 400ms", took)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the recovery line", func() bool { return strings.Contains(logs.String(), "is back after") })
}
