package redis_consumer

import (
	"context"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
)

type syncBuffer = syncbuf.Buffer

// newPlugin returns an initialised plugin for the Redis at addr; logs go
// to the returned buffer, at debug level.
func newPlugin(t *testing.T, addr string, tune func(*RedisConsumer)) (*RedisConsumer, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	p := New()
	p.Address = addr
	p.Timeout = config.Duration(2 * time.Second)
	l := logger.NewWriter(logs, "inputs.redis_consumer")
	l.SetDebug(true)
	p.Log = l
	if tune != nil {
		tune(p)
	}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("plugin log:\n%s", logs)
		}
	})
	return p, logs
}

// running is a Run in the background, with its stdin and stdout.
type running struct {
	stdin  *io.PipeWriter
	stdout *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// start runs p until the test ends (or stop is called).
func start(t *testing.T, p *RedisConsumer, opts RunOptions) *running {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdin: pw, stdout: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx, pr, r.stdout, opts) }()
	t.Cleanup(func() {
		cancel()
		pw.Close()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of the end of the test")
		}
	})
	return r
}

// gather writes one line on stdin, as [[inputs.execd]] with signal = "STDIN".
func (r *running) gather(t *testing.T) {
	t.Helper()
	if _, err := r.stdin.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
}

// result waits up to 10s for Run's result on done.
func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s")
		return nil
	}
}

// closeStdin ends stdin and returns Run's result.
func (r *running) closeStdin(t *testing.T) error {
	t.Helper()
	r.stdin.Close()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s after stdin closed")
		return nil
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLines waits until the output has n lines and returns them sorted.
func waitLines(t *testing.T, out *syncBuffer, n int) []string {
	t.Helper()
	waitFor(t, "output lines", func() bool { return len(out.Lines()) >= n })
	got := out.Lines()
	sort.Strings(got)
	return got
}

func sameLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// commandCalls is how many times srv ran the command since it started
// (INFO commandstats).
func commandCalls(t *testing.T, srv *redistest.Server, command string) int {
	t.Helper()
	info, err := redis.String(srv.Do("INFO", "commandstats"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(info, "cmdstat_"+command+":calls=")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	return n
}

// count is how many lines of the log contain s.
func count(log, s string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}
