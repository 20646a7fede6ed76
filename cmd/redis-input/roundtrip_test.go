package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// The pair round-trips: bin/redis-output writes what [[outputs.execd]] would
// hand it, bin/redis-input reads it back under the real Telegraf
// ([[inputs.execd]] -> [[outputs.file]]), and every metric arrives whole
// (name, tags, field types, time to the nanosecond) as it was written,
// through faults. Both plugins run with their default layout.

// writer is a running redis-output fed line protocol on its stdin.
type writer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   strings.Builder
}

func startWriter(t *testing.T, srv *redistest.Server, conf string) *writer {
	t.Helper()
	path := t.TempDir() + "/redis-output.conf"
	if err := os.WriteFile(path, []byte(fmt.Sprintf("[[outputs.redis]]\n  address = %q\n  timeout = \"1s\"\n%s", srv.Addr, conf)), 0o600); err != nil {
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
	t.Cleanup(func() {
		if err := w.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Error(err)
		}
		if err := w.cmd.Wait(); err != nil {
			t.Logf("redis-output: %v", err) // killed
		}
	})
	return w
}

// line is metric i as line protocol: tags, every field type, a string
// with escapes, a time with nanoseconds. Telegraf's file output writes it
// back; the test compares the metrics, not the text.
func line(i int) string {
	return fmt.Sprintf(`rt,src=roundtrip,shard=s%d seq=%di,u=%du,f=%d.25,neg=-0,ok=%t,s="metric \"%d\" \\ é" %d`,
		i%7, i, uint64(math.MaxUint64)-uint64(i), i, i%2 == 0, i, 1795552004000000000+int64(i)*1000+7)
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

// canonical is a metric as comparable text: name, tags, fields with type
// and exact value (a float's bits: -0 is not 0), time in nanoseconds.
func canonical(m telegraf.Metric) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q", m.Name())
	for _, t := range m.TagList() {
		fmt.Fprintf(&b, " #%q=%q", t.Key, t.Value)
	}
	fields := slices.Clone(m.FieldList())
	slices.SortFunc(fields, func(a, b *telegraf.Field) int { return strings.Compare(a.Key, b.Key) })
	for _, f := range fields {
		if v, ok := f.Value.(float64); ok {
			fmt.Fprintf(&b, " %q=float(%#x)", f.Key, math.Float64bits(v))
			continue
		}
		fmt.Fprintf(&b, " %q=%T(%#v)", f.Key, f.Value, f.Value)
	}
	fmt.Fprintf(&b, " @%d", m.Time().UnixNano())
	return b.String()
}

// parseLines reads line protocol with Telegraf's parser.
func parseLines(t *testing.T, text string) []telegraf.Metric {
	t.Helper()
	p := &influx.Parser{}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	ms, err := p.Parse([]byte(text))
	if err != nil {
		t.Fatalf("Telegraf's output does not parse: %v", err)
	}
	return ms
}

// expected is metrics from to n-1, canonical.
func expected(t *testing.T, from, n int) map[string]bool {
	t.Helper()
	var b strings.Builder
	for i := from; i < n; i++ {
		b.WriteString(line(i) + "\n")
	}
	want := map[string]bool{}
	for _, m := range parseLines(t, b.String()) {
		want[canonical(m)] = true
	}
	if len(want) != n-from {
		t.Fatalf("%d distinct metrics of %d", len(want), n-from)
	}
	return want
}

// count reads Telegraf's output file and compares its metrics, whole, with
// want: how many are missing and how many came twice. A metric that is
// not one of them (a field lost, a type changed, a time rounded) fails the
// test.
func count(t *testing.T, path string, want map[string]bool) (missing, dups int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) { // not yet created: nothing written
		t.Fatal(err)
	}
	// Telegraf may be writing: read whole lines only.
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	seen := map[string]int{}
	for _, m := range parseLines(t, string(data)) {
		c := canonical(m)
		if !want[c] {
			t.Fatalf("Telegraf's output holds a metric that was not written:\n  %s", c)
		}
		seen[c]++
	}
	for c := range want {
		switch k := seen[c]; {
		case k == 0:
			missing++
		case k > 1:
			dups += k - 1
		}
	}
	return missing, dups
}

func pendingFor(t *testing.T, srv *redistest.Server, consumer string) int {
	t.Helper()
	reply, err := redis.Values(srv.Conn().Do("XPENDING", "metrics", "telegraf", "-", "+", 100000, consumer))
	if err != nil {
		t.Fatalf("XPENDING: %v", err)
	}
	return len(reply)
}

// TestRoundTripStreamThroughFaultsIntegration: redis-output XADDs, redis-input reads
// through a consumer group. Entries left pending by a consumer that died
// are claimed; redis-input is SIGKILLed mid-stream and Telegraf restarts
// it; Redis is SIGKILLed (AOF, fsync always) and restarted mid-stream.
// Every metric Redis acknowledged reaches Telegraf's output; a metric may
// arrive twice only if it was pending (read, maybe written, not yet
// acknowledged) when a fault struck: delivery is at least once.
func TestRoundTripStreamThroughFaultsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	const n = 3000
	want := expected(t, 0, n)
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	w := startWriter(t, srv, "  mode = \"stream\"\n  key = \"metrics\"\n  flush_interval = \"20ms\"\n")

	// A consumer that read 100 entries and died before acknowledging them.
	srv.Do("XGROUP", "CREATE", "metrics", "telegraf", "0", "MKSTREAM")
	w.write(t, 0, 300)
	waitFor(t, "300 entries", func() bool {
		n, err := redis.Int(srv.Conn().Do("XLEN", "metrics"))
		return err == nil && n == 300
	})
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
`, srv.Addr), "none")

	w.write(t, 300, 1200)
	waitFor(t, "a first part read", func() bool { missing, _ := count(t, out, want); return missing < n-600 })

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

	waitFor(t, "every metric in Telegraf's output", func() bool { missing, _ := count(t, out, want); return missing == 0 })
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
	missing, dups := count(t, out, want)
	if missing != 0 || dups > pendingAtKill+pendingAtRedisKill {
		t.Fatalf("%d missing, %d duplicates; pending at the input's kill %d, at Redis's %d", missing, dups, pendingAtKill, pendingAtRedisKill)
	}
	if left, err := redis.Values(srv.Conn().Do("XPENDING", "metrics", "telegraf", "-", "+", 10)); err != nil || len(left) != 0 {
		t.Fatalf("%d entries still pending", len(left))
	}
	t.Logf("%d metrics written and read back; %d duplicates (pending at the faults: %d and %d); 100 claimed from a dead consumer",
		n, dups, pendingAtKill, pendingAtRedisKill)
}

// TestRoundTripPublishSubscribeIntegration: redis-output PUBLISHes each metric,
// redis-input SUBSCRIBEs (PSUBSCRIBE) and Telegraf writes them out exactly.
func TestRoundTripPublishSubscribeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	const n = 500
	want := expected(t, 0, n)
	srv := redistest.Start(t)
	out, tg := runTelegraf(t, fmt.Sprintf(`
[[inputs.redis_consumer]]
  address = %q
  mode = "subscribe"
  patterns = ["telegraf:*"]
`, srv.Addr), "none")
	waitFor(t, "the subscription", func() bool {
		n, err := redis.Int(srv.Conn().Do("PUBSUB", "NUMPAT"))
		return err == nil && n == 1
	})
	// Unsigned integers come back as such with the influx serializer's
	// influx_uint_support (Telegraf's default writes them as integers).
	w := startWriter(t, srv, "  mode = \"publish\"\n  influx_uint_support = true\n")
	w.write(t, 0, n)
	w.close(t)
	waitFor(t, "every message in Telegraf's output", func() bool { missing, _ := count(t, out, want); return missing == 0 })
	stopTelegraf(t, tg)
	if missing, dups := count(t, out, want); missing != 0 || dups != 0 {
		t.Fatalf("%d missing, %d duplicates", missing, dups)
	}
}
