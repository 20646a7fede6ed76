package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// The pair round-trips: bin/redis-output writes what [[outputs.execd]] would
// hand it, bin/redis-input reads it back under the real Telegraf
// ([[inputs.execd]] -> [[outputs.file]]), and every metric arrives as it
// was written, through faults.

// writer is a running redis-output fed line protocol on its stdin.
type writer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   strings.Builder
}

func startWriter(t *testing.T, srv *redistest.Server, conf string) *writer {
	t.Helper()
	path := t.TempDir() + "/redis-output.conf"
	if err := os.WriteFile(path, []byte(fmt.Sprintf("[[outputs.redis]]\n  address = %q\n  data_format = \"influx\"\n  timeout = \"1s\"\n%s", srv.Addr, conf)), 0o600); err != nil {
		t.Fatal(err)
	}
	w := &writer{cmd: exec.Command(telegraftest.Command(t, "redis-output"), "-config", path)}
	w.cmd.Stderr = &w.log
	var err error
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.cmd.Process.Kill(); _ = w.cmd.Wait() })
	return w
}

// line is metric i as line protocol; Telegraf's file output writes it back
// the same way.
func line(i int) string {
	return fmt.Sprintf("rt,src=roundtrip seq=%di %d", i, 1795552004000000000+int64(i))
}

func (w *writer) write(t *testing.T, from, to int) {
	t.Helper()
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(line(i) + "\n")
	}
	if _, err := io.WriteString(w.stdin, b.String()); err != nil {
		t.Fatal(err)
	}
}

// close ends the input: redis-output writes everything Redis has not yet
// acknowledged and exits 0 only when all of it was.
func (w *writer) close(t *testing.T) {
	t.Helper()
	w.stdin.Close()
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("redis-output: %v\n%s", err, w.log.String())
	}
}

// count reads the output file: how often each line arrived, and any line
// that is not one of ours.
func count(t *testing.T, path string, n int) (seen map[string]int, missing, dups int) {
	t.Helper()
	data, _ := os.ReadFile(path)
	seen = map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l != "" {
			seen[l]++
		}
	}
	for i := 0; i < n; i++ {
		switch c := seen[line(i)]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	if len(seen) > n {
		t.Fatalf("%d distinct lines in the output, %d written", len(seen), n)
	}
	return seen, missing, dups
}

func pendingFor(t *testing.T, srv *redistest.Server, consumer string) int {
	t.Helper()
	reply, err := redis.Values(srv.Conn().Do("XPENDING", "metrics", "telegraf", "-", "+", 100000, consumer))
	if err != nil {
		t.Fatalf("XPENDING: %v", err)
	}
	return len(reply)
}

// TestRoundTripStreamThroughFaults: redis-output XADDs, redis-input reads
// through a consumer group. Entries left pending by a consumer that died
// are claimed; redis-input is SIGKILLed mid-stream and Telegraf restarts
// it; Redis is SIGKILLed (AOF, fsync always) and restarted mid-stream.
// Every metric Redis acknowledged reaches Telegraf's output; a metric may
// arrive twice only if it was pending (read, maybe written, not yet
// acknowledged) when a fault struck: delivery is at least once.
func TestRoundTripStreamThroughFaults(t *testing.T) {
	const n = 3000
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	w := startWriter(t, srv, "  mode = \"stream\"\n  key = \"metrics\"\n  payload_field = \"payload\"\n  data_format_out = \"influx\"\n  flush_interval = \"20ms\"\n")

	// A consumer that read 100 entries and died before acknowledging them.
	srv.Do("XGROUP", "CREATE", "metrics", "telegraf", "0", "MKSTREAM")
	w.write(t, 0, 300)
	waitFor(t, "300 entries", func() bool { n, _ := redis.Int(srv.Conn().Do("XLEN", "metrics")); return n == 300 })
	srv.Do("XREADGROUP", "GROUP", "telegraf", "dead", "COUNT", 100, "STREAMS", "metrics", ">")

	out, tg := runTelegraf(t, fmt.Sprintf(`
[[inputs.redis_consumer]]
  address = %q
  timeout = "2s"
  mode = "stream"
  key = "metrics"
  group = "telegraf"
  consumer = "telegraf-1"
  claim_idle = "500ms"
  block = "200ms"
  batch_size = 50
  payload_field = "payload"
  data_format = "influx"
`, srv.Addr), "none")

	w.write(t, 300, 1200)
	waitFor(t, "a first part read", func() bool { _, missing, _ := count(t, out, n); return missing < n-600 })

	// SIGKILL the input; Telegraf starts it again after restart_delay.
	children := tg.Children()
	if len(children) != 1 {
		t.Fatalf("telegraf has %d children", len(children))
	}
	if err := syscall.Kill(children[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pendingAtKill := pendingFor(t, srv, "telegraf-1")
	w.write(t, 1200, 2000)
	waitFor(t, "the input restarted", func() bool { c := tg.Children(); return len(c) == 1 && c[0] != children[0] })

	// SIGKILL Redis, with both plugins running, and bring it back.
	srv.Kill()
	w.write(t, 2000, 2500)
	waitFor(t, "the outage seen by the input", func() bool { return strings.Contains(tg.Output(), "is unavailable") })
	srv.Restart()
	pendingAtRedisKill := pendingFor(t, srv, "telegraf-1")
	w.write(t, 2500, n)
	w.close(t)

	waitFor(t, "every metric in Telegraf's output", func() bool { _, missing, _ := count(t, out, n); return missing == 0 })
	if err := tg.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The kill we caused is the only error Telegraf may report: the exit,
	// and its readers of the killed process's pipes failing (a race in
	// Telegraf's process reader).
	for _, l := range strings.Split(tg.Output(), "\n") {
		if strings.Contains(l, " E! ") && !strings.Contains(l, "exited: signal: killed") && !strings.Contains(l, "file already closed") {
			t.Fatalf("unexpected error: %s", l)
		}
	}
	_, missing, dups := count(t, out, n)
	if missing != 0 || dups > pendingAtKill+pendingAtRedisKill {
		t.Fatalf("%d missing, %d duplicates; pending at the input's kill %d, at Redis's %d", missing, dups, pendingAtKill, pendingAtRedisKill)
	}
	if left, _ := redis.Values(srv.Conn().Do("XPENDING", "metrics", "telegraf", "-", "+", 10)); len(left) != 0 {
		t.Fatalf("%d entries still pending", len(left))
	}
	t.Logf("%d metrics written and read back; %d duplicates (pending at the faults: %d and %d); 100 claimed from a dead consumer",
		n, dups, pendingAtKill, pendingAtRedisKill)
}

// TestRoundTripPublishSubscribe: redis-output PUBLISHes each metric,
// redis-input SUBSCRIBEs (PSUBSCRIBE) and Telegraf writes them out exactly.
func TestRoundTripPublishSubscribe(t *testing.T) {
	const n = 500
	srv := redistest.Start(t)
	out, tg := runTelegraf(t, fmt.Sprintf(`
[[inputs.redis_consumer]]
  address = %q
  mode = "subscribe"
  patterns = ["telegraf:*"]
  channel_tag = ""
  data_format = "influx"
`, srv.Addr), "none")
	waitFor(t, "the subscription", func() bool {
		n, _ := redis.Int(srv.Conn().Do("PUBSUB", "NUMPAT"))
		return n == 1
	})
	w := startWriter(t, srv, "  mode = \"publish\"\n  data_format_out = \"influx\"\n")
	w.write(t, 0, n)
	w.close(t)
	waitFor(t, "every message in Telegraf's output", func() bool { _, missing, _ := count(t, out, n); return missing == 0 })
	stopTelegraf(t, tg)
	if _, missing, dups := count(t, out, n); missing != 0 || dups != 0 {
		t.Fatalf("%d missing, %d duplicates", missing, dups)
	}
}
