package redis_consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// TestBuiltIntoTelegrafIntegration runs both plugins built into the real Telegraf
// (bin/telegraf, `make telegraf`): [[inputs.redis_consumer]] in quote mode
// and in stream mode, into [[outputs.file]] and [[outputs.redis]] writing
// a list on a second Redis, which is down at first. The stream's entries
// stay pending until every output has them: the file has them at once,
// the list only once its Redis is up, and only then are they acknowledged.
func TestBuiltIntoTelegrafIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	bin := telegraftest.Telegraf(t)
	src := redistest.Start(t)
	dst := redistest.Start(t)
	dst.Kill()
	src.Do("SET", DefaultQuoteKey, doc)
	for i := 0; i < 5; i++ {
		src.Do("XADD", "metrics", fmt.Sprintf("179555200400%d-0", i), "id", "bitcoin", "i", i)
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "metrics.lp")
	conf := filepath.Join(dir, "telegraf.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`
[agent]
  interval = "1s"
  flush_interval = "200ms"
  omit_hostname = true
  skip_processors_after_aggregators = false

[[inputs.redis_consumer]]
  address = %[1]q

[[inputs.redis_consumer]]
  address = %[1]q
  mode = "stream"
  key = "metrics"
  consumer = "telegraf-1"
  tag_keys = ["id"]
  block = "100ms"

[[outputs.file]]
  files = [%[2]q]
  data_format = "influx"

[[outputs.redis]]
  address = %[3]q
  mode = "list"
  key = "copy:{{.Name}}"
  timeout = "1s"
  namepass = ["redis_consumer"]
  ## Its Redis is down at start: Telegraf keeps the metrics and connects
  ## at a later flush.
  startup_error_behavior = "retry"
`, src.Addr, out, dst.Addr)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tg := telegraftest.Start(t, "telegraf", bin, nil, "--config", conf)

	waitFor(t, "the quote and the entries in the file", func() bool {
		data, err := os.ReadFile(out)
		if errors.Is(err, os.ErrNotExist) {
			return false // not created yet
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(data), docLines[0]) &&
			strings.Count(string(data), "redis_consumer,id=bitcoin i=") >= 5
	})
	// The list's Redis is away: not delivered, so not acknowledged,
	// however many writes fail.
	waitFor(t, "two failed writes", func() bool { return strings.Count(tg.Output(), "E! [agent] Error writing to outputs.redis") >= 2 })
	if n := pending(t, src); n != 5 {
		t.Fatalf("%d entries pending with an output down, want 5", n)
	}

	dst.Restart()
	waitFor(t, "the entries in the list", func() bool {
		n, err := redis.Int(dst.Conn().Do("LLEN", "copy:redis_consumer"))
		return err == nil && n >= 5
	})
	waitFor(t, "the XACK once every output delivered", func() bool { return pending(t, src) == 0 })

	if err := tg.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	items, err := redis.Strings(dst.Conn().Do("LRANGE", "copy:redis_consumer", 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 5 || !strings.HasPrefix(items[0], "redis_consumer,id=bitcoin i=0 1795552004000000000") {
		t.Fatalf("list %q", items)
	}
}

// TestBuiltIntoTelegrafTestModeIntegration runs `telegraf --test
// --test-wait 3` with a stream [[inputs.redis_consumer]] (before: each
// entry printed about 480 times, 747 XREADGROUP). --test prints each
// metric and rejects it, as an output refusing it would: the entries stay
// pending, and are handed over again only after a backoff (1s, then 2s),
// with a handful of reads. Hostile: more entries than one page
// (batch_size), so that the first round takes several reads and a retry
// is one page.
func TestBuiltIntoTelegrafTestModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	bin := telegraftest.Telegraf(t)
	src := redistest.Start(t)
	for i := 0; i < 50; i++ {
		src.Do("XADD", "metrics", fmt.Sprintf("1795552004000-%d", i), "i", i)
	}
	conf := filepath.Join(t.TempDir(), "telegraf.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`
[agent]
  omit_hostname = true
  skip_processors_after_aggregators = false

[[inputs.redis_consumer]]
  address = %q
  mode = "stream"
  key = "metrics"
  consumer = "telegraf-1"
  block = "100ms"
  batch_size = 20

[[outputs.file]]
  files = ["stdout"]
`, src.Addr)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	src.Do("CONFIG", "RESETSTAT")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config", conf, "--test", "--test-wait", "3")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("telegraf --test: %v\n%s", err, stderr.String())
	}
	printed := map[int]int{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var i int
		if _, err := fmt.Sscanf(l, "> redis_consumer i=%d 1795552004000000000", &i); err != nil {
			t.Fatalf("line %q", l)
		}
		printed[i]++
	}
	for i, n := range printed {
		// The first round, a page again after ~1s, and maybe after ~3s.
		if n > 3 {
			t.Fatalf("entry %d printed %d times in 3s, want at most 3\n%s", i, n, stderr.String())
		}
	}
	if len(printed) < 20 {
		t.Fatalf("%d entries printed, want at least one page (20)", len(printed))
	}
	if n := commandCalls(t, src, "xreadgroup"); n > 15 {
		t.Fatalf("%d XREADGROUP in 3s, want a handful (no loop)", n)
	}
	if n := pending(t, src); n != int64(len(printed)) {
		t.Fatalf("%d entries pending after --test, want the %d printed (--test delivers nothing)", n, len(printed))
	}
	if !strings.Contains(stderr.String(), `W! [inputs.redis_consumer] stream "metrics": Telegraf did not deliver`) {
		t.Fatalf("no W! line:\n%s", stderr.String())
	}
}

var droppedLine = regexp.MustCompile(`Metric buffer overflow; (\d+) metrics have been dropped`)

// dropped sums what Telegraf logged as dropped from its output buffers.
func dropped(t *testing.T, log string) int {
	t.Helper()
	n := 0
	for _, m := range droppedLine.FindAllStringSubmatch(log, -1) {
		k, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatalf("%q: %v", m[0], err)
		}
		n += k
	}
	return n
}

// TestBuiltIntoTelegrafOutputDownIntegration: the output is down and its
// buffer (metric_buffer_limit = 100) holds fewer metrics than the plugin
// hands over (300 entries, max_undelivered_messages 1000): Telegraf drops
// the oldest and rejects them (before: 829 XREADGROUP in 10s and ~6,180
// metrics "dropped" for 300 entries, each handed over again and again).
// Now reading pauses until Telegraf has settled what it holds: no read
// and no drop while the output is down, so no entry is counted dropped
// twice; once it is back, every entry is written to it exactly once, and
// acknowledged.
func TestBuiltIntoTelegrafOutputDownIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	bin := telegraftest.Telegraf(t)
	src := redistest.Start(t)
	dst := redistest.Start(t)
	dst.Kill()
	for i := 0; i < 300; i++ {
		src.Do("XADD", "metrics", fmt.Sprintf("1795552004000-%d", i), "i", i)
	}
	conf := filepath.Join(t.TempDir(), "telegraf.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`
[agent]
  interval = "1s"
  flush_interval = "300ms"
  metric_batch_size = 100
  metric_buffer_limit = 100
  omit_hostname = true
  skip_processors_after_aggregators = false

[[inputs.redis_consumer]]
  address = %q
  mode = "stream"
  key = "metrics"
  consumer = "telegraf-1"
  block = "100ms"
  batch_size = 10

[[outputs.redis]]
  address = %q
  mode = "list"
  key = "copy"
  timeout = "1s"
  startup_error_behavior = "retry"
`, src.Addr, dst.Addr)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tg := telegraftest.Start(t, "telegraf", bin, nil, "--config", conf)
	// The output has not connected yet (startup_error_behavior = "retry"):
	// Telegraf drops from its full buffer without a word until its first
	// write, and says how many then; the pause shows the drops.
	waitFor(t, "the buffer overflow and the pause", func() bool {
		return strings.Contains(tg.Output(), `stream "metrics": Telegraf did not deliver`)
	})
	reads := commandCalls(t, src, "xreadgroup")
	// A few flushes that fail.
	waitFor(t, "three failed writes", func() bool { return strings.Count(tg.Output(), "E! [agent] Error writing to outputs.redis") >= 3 })
	if n := commandCalls(t, src, "xreadgroup") - reads; n > 1 {
		t.Fatalf("%d XREADGROUP while the output is down and Telegraf holds what it can, want none", n)
	}
	if n := dropped(t, tg.Output()); n > 200 {
		t.Fatalf("%d metrics dropped for 300 entries and a buffer of 100, want at most 200 (each once)", n)
	}
	if n := pending(t, src); n == 0 || n > 300 {
		t.Fatalf("%d entries pending with the output down", n)
	}

	dst.Restart()
	waitFor(t, "every entry in the list", func() bool {
		n, err := redis.Int(dst.Conn().Do("LLEN", "copy"))
		return err == nil && n >= 300
	})
	waitFor(t, "the XACK once every entry is delivered", func() bool { return pending(t, src) == 0 })
	if err := tg.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	items, err := redis.Strings(dst.Conn().Do("LRANGE", "copy", 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	written := map[int]int{}
	for _, it := range items {
		var i int
		if _, err := fmt.Sscanf(it, "redis_consumer i=%d 1795552004000000000", &i); err != nil {
			t.Fatalf("list item %q", it)
		}
		written[i]++
	}
	for i := 0; i < 300; i++ {
		if written[i] != 1 {
			t.Fatalf("entry %d written %d times, want once", i, written[i])
		}
	}
	if n := dropped(t, tg.Output()); n > 200 {
		t.Fatalf("%d metrics dropped in all, want at most 200: an entry handed over again was dropped again", n)
	}
}
