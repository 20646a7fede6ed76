package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// documentTime is the timestamp of the quote document in outage:doc, -1
// when it cannot be read.
func documentTime(srv *redistest.Server) int64 {
	c, err := redis.Dial("tcp", srv.Addr, redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(time.Second))
	if err != nil {
		return -1
	}
	defer c.Close()
	doc, err := redis.Bytes(c.Do("GET", "outage:doc"))
	if err != nil {
		return -1
	}
	var d struct {
		Timestamp int64 `json:"timestamp"`
	}
	if json.Unmarshal(doc, &d) != nil {
		return -1
	}
	return d.Timestamp
}

// TestOutageEndsWithinAProbeIntegration, with the real retry policy: Redis (AOF, fsync
// always) is killed for 14 s under a price a tick (every 50 ms), then
// restarted. A backoff doubling from 100 ms would by then wait 6.4 s to
// 12.8 s between attempts (up to 30 s: the issue saw the document stale
// 27.5 s after a 45 s outage); redis-output probes Redis every second
// while it is away, so the document is fresh again within two seconds of
// Redis answering, and the recovery line states the outage within a probe
// period. Nothing is lost: the last price is in the document at the end.
func TestOutageEndsWithinAProbeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	const probe = time.Second // the real policy
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	conf := writeConfig(t, fmt.Sprintf(`
[[outputs.redis]]
  address = %q
  key = "outage:doc"
  flush_interval = "10ms"
`, srv.Addr))
	stdinR, stdin := osPipe(t)
	p := start(t, conf, stdinR)
	stdinR.Close()
	price := func(i int) string {
		return fmt.Sprintf(`{"fields":{"fields_bitcoin_usd":%d},"name":"kafka_consumer","tags":{},"timestamp":%d}`+"\n", 1000+i, 1795552004+i)
	}
	stop, fed := make(chan struct{}), make(chan int, 1)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				stdin.Close()
				fed <- i
				return
			case <-tick.C:
				fmt.Fprint(stdin, price(i))
			}
		}
	}()
	waitUntil(t, "the document written", func() bool { return documentTime(srv) > 1795552004+5 })

	killed := time.Now()
	srv.Kill()
	// The outage's length is what is tested: Redis stays away for 14 s.
	time.Sleep(14 * time.Second)
	srv.Restart()
	back := time.Now()
	stale := documentTime(srv)
	waitUntil(t, "a fresh document", func() bool { return documentTime(srv) > stale })
	took := time.Since(back)
	outage := back.Sub(killed)
	t.Logf("document fresh %s after Redis came back from a %s outage", took.Round(time.Millisecond), outage.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Fatalf("document fresh %s after Redis came back\n%s", took, p.stderr)
	}

	close(stop)
	n := <-fed
	if err := p.wait(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr)
	}
	if got := documentTime(srv); got != int64(1795552004+n-1) {
		t.Fatalf("document at %d, the last price was at %d\n%s", got, 1795552004+n-1, p.stderr)
	}
	m := regexp.MustCompile(`I! \[outputs\.redis\] Redis at \S+ is back after (\S+) and \d+ failed attempts`).FindAllStringSubmatch(p.stderr.String(), -1)
	if len(m) != 1 {
		t.Fatalf("want one recovery line:\n%s", p.stderr)
	}
	said, err := time.ParseDuration(m[0][1])
	if err != nil {
		t.Fatal(err)
	}
	if said < outage-500*time.Millisecond || said > outage+probe+500*time.Millisecond {
		t.Fatalf("the line says back after %s; the outage was %s\n%s", said, outage, p.stderr)
	}
}
