package redis_consumer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// TestBuiltIntoTelegraf runs both plugins built into the real Telegraf
// (bin/telegraf, `make telegraf`): [[inputs.redis_consumer]] in quote mode
// and in stream mode, into [[outputs.file]] and [[outputs.redis]] writing
// a list on a second Redis, which is down at first. The stream's entries
// stay pending until every output has them: the file has them at once,
// the list only once its Redis is up, and only then are they acknowledged.
func TestBuiltIntoTelegraf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real Telegraf; skipped with -short")
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
`, src.Addr, out, dst.Addr)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tg := telegraftest.Start(t, "telegraf", bin, nil, "--config", conf)

	waitFor(t, "the quote and the entries in the file", func() bool {
		data, _ := os.ReadFile(out)
		return strings.Contains(string(data), docLines[0]) &&
			strings.Count(string(data), "redis_consumer,id=bitcoin i=") >= 5
	})
	// The list's Redis is away: not delivered, so not acknowledged,
	// however many writes fail.
	waitFor(t, "two failed writes", func() bool { return strings.Count(tg.Output(), "E! [agent] Error writing to outputs.redis") >= 2 })
	if n := pending(t, src, "metrics", "telegraf"); n != 5 {
		t.Fatalf("%d entries pending with an output down, want 5", n)
	}

	dst.Restart()
	waitFor(t, "the entries in the list", func() bool {
		n, _ := redis.Int(dst.Conn().Do("LLEN", "copy:redis_consumer"))
		return n >= 5
	})
	waitFor(t, "the XACK once every output delivered", func() bool { return pending(t, src, "metrics", "telegraf") == 0 })

	if err := tg.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	items, _ := redis.Strings(dst.Conn().Do("LRANGE", "copy:redis_consumer", 0, -1))
	if len(items) != 5 || !strings.HasPrefix(items[0], "redis_consumer,id=bitcoin i=0 1795552004000000000") {
		t.Fatalf("list %q", items)
	}
}
