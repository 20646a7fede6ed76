package redis

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// While Redis is away the execd loop probes it every probe period at most
// (a PING, on a new connection) and writes as soon as it answers, whatever
// the outage's length; the line when it is back gives the outage as it
// was. These tests shorten the probe period (policy.ProbeEvery);
// cmd/redis-output's TestOutageEndsWithinAProbeIntegration runs the real one.

const testProbe = 250 * time.Millisecond

// feeder writes a metric with the next seq every 20 ms (Telegraf's
// flushes) until stopped, then closes the input.
type feeder struct {
	t    *testing.T
	stop chan struct{}
	n    chan int
	err  error // the first write that failed, read after n
}

func feed(t *testing.T, w io.WriteCloser) *feeder {
	f := &feeder{t: t, stop: make(chan struct{}), n: make(chan int, 1)}
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-f.stop:
				w.Close()
				f.n <- i
				return
			case <-tick.C:
				if _, err := io.WriteString(w, seqLine(i)); err != nil && f.err == nil {
					f.err = fmt.Errorf("seq %d: %w", i, err)
				}
			}
		}
	}()
	return f
}

// end stops the feeder and returns how many metrics it wrote; a write
// that failed fails the test.
func (f *feeder) end() int {
	f.t.Helper()
	close(f.stop)
	n := <-f.n
	if f.err != nil {
		f.t.Fatalf("feeding the plugin: %v", f.err)
	}
	return n
}

// llen is the length of the list "outage", -1 when it cannot be read.
func llen(srv *redistest.Server) int {
	c, err := redis.Dial("tcp", srv.Addr, redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(time.Second))
	if err != nil {
		return -1
	}
	defer c.Close()
	n, err := redis.Int(c.Do("LLEN", "outage"))
	if err != nil {
		return -1
	}
	return n
}

var listSeqRE = regexp.MustCompile(`\bseq=(\d+)i?\b`)

// allThere fails unless the list holds every seq below n at least once.
func allThere(t *testing.T, srv *redistest.Server, key string, n int, logs fmt.Stringer) {
	t.Helper()
	items, err := redis.Strings(srv.Conn().Do("LRANGE", key, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, it := range items {
		if m := listSeqRE.FindStringSubmatch(it); m != nil {
			seen[m[1]] = true
		}
	}
	for i := 0; i < n; i++ {
		if !seen[strconv.Itoa(i)] {
			t.Fatalf("seq %d of %d lost\n%s", i, n, logs)
		}
	}
}

var backRE = regexp.MustCompile(`I! \[outputs\.redis\] Redis at \S+ is back after (\S+) and (\d+) failed attempts`)

// backAfter reads the outage the recovery line gives, and its attempts.
func backAfter(t *testing.T, logs fmt.Stringer) (time.Duration, int) {
	t.Helper()
	m := backRE.FindAllStringSubmatch(logs.String(), -1)
	if len(m) != 1 {
		t.Fatalf("want one recovery line:\n%s", logs)
	}
	d, err := time.ParseDuration(m[0][1])
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(m[0][2])
	if err != nil {
		t.Fatal(err)
	}
	return d, n
}

// TestWriteWithinAProbeOfRedisBackIntegration: Redis (AOF, fsync always) is
// killed for 7 s while metrics come every 20 ms, then restarted. A backoff
// doubling from 100 ms would by then wait 3.2 s to 6.4 s between attempts,
// and so write seconds after Redis is back (the issue measured 27.5 s after
// a 45 s outage with the 30 s cap); the probe writes within a couple of
// probe periods. The recovery line states the outage within a probe
// period, and nothing is lost.
func TestWriteWithinAProbeOfRedisBackIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Key = "list", "outage"
		r.policy.ProbeEvery = testProbe
	})
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	f := feed(t, pw)
	waitFor(t, func() bool { return llen(srv) > 10 })

	killed := time.Now()
	srv.Kill()
	// The outage's length is what is tested: Redis stays away for 7 s.
	time.Sleep(7 * time.Second)
	srv.Restart()
	back := time.Now()
	before := llen(srv)
	waitLong(t, 20*time.Second, "a write after Redis came back", func() bool { return llen(srv) > before })
	took := time.Since(back)
	outage := back.Sub(killed)
	t.Logf("written %s after Redis came back from a %s outage", took.Round(time.Millisecond), outage.Round(time.Millisecond))
	if took > 2*testProbe+time.Second {
		t.Fatalf("written %s after Redis came back (probe every %s)\n%s", took, testProbe, logs)
	}
	n := f.end()
	if err := <-done; err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	allThere(t, srv, "outage", n, logs)

	said, attempts := backAfter(t, logs)
	if said < outage-500*time.Millisecond || said > outage+testProbe+500*time.Millisecond {
		t.Fatalf("the line says back after %s; the outage was %s\n%s", said, outage, logs)
	}
	// Probed often (every 100 ms, 200 ms, then every 250 ms), never in a
	// hot loop.
	if attempts < int(outage/testProbe)/2 || attempts > int(outage/(100*time.Millisecond))+5 {
		t.Fatalf("%d attempts in a %s outage\n%s", attempts, outage, logs)
	}
	warns := logLines(logs, "W! ")
	if len(warns) != 1 || !strings.Contains(warns[0], "probing it every 250ms and going on as soon as it answers") {
		t.Fatalf("want one W! line saying how Redis is probed:\n%s", logs)
	}
}

// Hostile: Redis comes back, answers the probe, and is gone again before
// the write (killed at that very moment); then it comes back for good.
// The outage goes on (one W! line, not two), the write follows the next
// probe that Redis answers, the recovery line gives the whole outage, and
// nothing is lost.
func TestRedisGoneAgainAfterTheProbeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	logs := &syncBuffer{}
	var armed atomic.Bool
	probed, killedAgain := make(chan struct{}), make(chan struct{})
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Key = "list", "outage"
		r.policy.ProbeEvery = testProbe
		// The flusher waits here, Redis having answered its probe, until
		// the test has killed Redis again.
		r.policy.AfterProbe = func() {
			if armed.CompareAndSwap(true, false) {
				close(probed)
				<-killedAgain
			}
		}
	})
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	f := feed(t, pw)
	waitFor(t, func() bool { return llen(srv) > 10 })

	killed := time.Now()
	srv.Kill()
	waitFor(t, func() bool { return strings.Contains(logs.String(), "is unavailable") })
	armed.Store(true)
	srv.Restart()
	select {
	case <-probed:
	case <-time.After(10 * time.Second):
		t.Fatalf("no probe answered after Redis came back\n%s", logs)
	}
	srv.Kill()
	close(killedAgain)
	// Away again for 2 s: the write after the probe fails, probes go on.
	time.Sleep(2 * time.Second)
	srv.Restart()
	back := time.Now()
	before := llen(srv)
	waitLong(t, 20*time.Second, "a write after Redis came back", func() bool { return llen(srv) > before })
	if took := time.Since(back); took > 2*testProbe+time.Second {
		t.Fatalf("written %s after Redis came back (probe every %s)\n%s", took, testProbe, logs)
	}
	n := f.end()
	if err := <-done; err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	allThere(t, srv, "outage", n, logs)
	outage := back.Sub(killed)
	said, _ := backAfter(t, logs)
	if said < outage-500*time.Millisecond || said > outage+testProbe+500*time.Millisecond {
		t.Fatalf("the line says back after %s; the outage was %s\n%s", said, outage, logs)
	}
	if n := len(logLines(logs, "W! ")); n != 1 {
		t.Fatalf("%d W! lines for one outage:\n%s", n, logs)
	}
}

// Hostile: the writer may not PING (the least ACL of list mode, as the
// README gives it, has no +ping). Its probe gets NOPERM, which is an
// answer all the same: Redis is there, and the write follows at once.
func TestProbeAsAUserWithoutPingIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always",
		"--user", "writer", "on", ">pw", "+client|setname", "+rpush", "~outage")
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Key = "list", "outage"
		r.Username, r.Password = config.NewSecret([]byte("writer")), config.NewSecret([]byte("pw"))
		r.policy.ProbeEvery = testProbe
	})
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	f := feed(t, pw)
	waitFor(t, func() bool { return llen(srv) > 10 })
	srv.Kill()
	waitFor(t, func() bool { return strings.Contains(logs.String(), "is unavailable") })
	// Long enough for a backoff to have grown past the probe period.
	time.Sleep(3 * time.Second)
	srv.Restart()
	back := time.Now()
	before := llen(srv)
	waitLong(t, 20*time.Second, "a write after Redis came back", func() bool { return llen(srv) > before })
	if took := time.Since(back); took > 2*testProbe+time.Second {
		t.Fatalf("written %s after Redis came back (probe every %s)\n%s", took, testProbe, logs)
	}
	n := f.end()
	if err := <-done; err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	allThere(t, srv, "outage", n, logs)
	if strings.Contains(logs.String(), "E! ") || len(logLines(logs, "W! ")) != 1 {
		t.Fatalf("log:\n%s", logs)
	}
}

// The same built in: the first flush after Redis is back writes, though
// the probe before it got NOPERM.
func TestBuiltInProbeAsAUserWithoutPingIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--user", "writer", "on", ">pw", "+client|setname", "+xadd", "~s:*")
	r := startBuiltIn(t, srv.Addr, nil, func(r *Redis) {
		r.Mode, r.Key = "stream", "s:{{.Name}}"
		r.Username, r.Password = config.NewSecret([]byte("writer")), config.NewSecret([]byte("pw"))
	})
	ms := parseLines(t, typedLines)
	srv.Kill()
	if err := r.Write(ms); err == nil {
		t.Fatal("Write succeeded with Redis away")
	}
	srv.Restart()
	if err := r.Write(ms); err != nil {
		t.Fatalf("the first flush after Redis came back: %v", err)
	}
	if n, err := redis.Int(srv.Conn().Do("XLEN", "s:cpu")); err != nil || n != 3 {
		t.Fatalf("s:cpu has %d entries: %v", n, err)
	}
}
