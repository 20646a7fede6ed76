package main

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

// These tests run the real Telegraf (bin/telegraf, built from the version
// pinned in go.mod) with redis-input under [[inputs.execd]] and
// [[outputs.file]] writing line protocol, as a user would.

// runTelegraf starts Telegraf with redis-input (config pluginConf) under
// [[inputs.execd]] with the given signal, and returns the output file.
func runTelegraf(t *testing.T, pluginConf, signal string) (string, *telegraftest.Process) {
	t.Helper()
	return runTelegrafFlushing(t, pluginConf, signal, "200ms")
}

// runTelegrafFlushing is runTelegraf with Telegraf's flush_interval.
func runTelegrafFlushing(t *testing.T, pluginConf, signal, flush string) (string, *telegraftest.Process) {
	t.Helper()
	bin := telegraftest.Telegraf(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "redis-input.conf")
	if err := os.WriteFile(conf, []byte(pluginConf), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "metrics.lp")
	telegrafConf := filepath.Join(dir, "telegraf.conf")
	err := os.WriteFile(telegrafConf, []byte(fmt.Sprintf(`
[agent]
  interval = "1s"
  round_interval = false
  collection_jitter = "0s"
  flush_interval = %q
  flush_jitter = "0s"
  omit_hostname = true
  skip_processors_after_aggregators = false

[[inputs.execd]]
  command = [%q, "-config", %q]
  signal = %q
  restart_delay = "1s"
  data_format = "influx"

[[outputs.file]]
  files = [%q]
  data_format = "influx"
  ## Unsigned fields stay unsigned (Telegraf's default writes them as
  ## integers).
  influx_uint_support = true
`, flush, binary(t), conf, signal, out)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return out, telegraftest.Start(t, "telegraf", bin, nil, "--config", telegrafConf)
}

// fileHas reports whether the file holds every line of want.
func fileHas(path string, want ...string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, w := range want {
		if !strings.Contains("\n"+string(data), "\n"+w+"\n") {
			return false
		}
	}
	return true
}

// stopTelegraf stops Telegraf, which closes our stdin, and checks that no
// error was logged on the way (ours arrive as "[inputs.execd] ...").
func stopTelegraf(t *testing.T, tg *telegraftest.Process) {
	t.Helper()
	if err := tg.Stop(15 * time.Second); err != nil {
		t.Fatalf("telegraf: %v", err)
	}
	for _, l := range strings.Split(tg.Output(), "\n") {
		if strings.Contains(l, " E! ") {
			t.Fatalf("error logged:\n%s", tg.Output())
		}
	}
}

func TestTelegrafRunsQuoteModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	out, tg := runTelegraf(t, fmt.Sprintf("[[inputs.redis_consumer]]\n  address = %q\n", srv.Addr), "STDIN")
	srv.Do("SET", "coingecko:rate:usd", doc)
	waitFor(t, "the quote in Telegraf's output file", func() bool {
		return fileHas(out,
			"currency_rate,id=bitcoin,quote=usd price=97234.12 1795552004000000000",
			"currency_rate,id=ethereum,quote=usd price=3391.45 1795552004000000000")
	})
	// Every line is one of the two: nothing else reaches Telegraf.
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l+"\n" != strings.SplitAfter(docLines, "\n")[0] && l+"\n" != strings.SplitAfter(docLines, "\n")[1] {
			t.Fatalf("unexpected line %q", l)
		}
	}
	stopTelegraf(t, tg)
}

func TestTelegrafRunsStreamModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	out, tg := runTelegraf(t, fmt.Sprintf(`
[[inputs.redis_consumer]]
  address = %q
  mode = "stream"
  key = "rates"
  consumer = "telegraf-1"
  tag_keys = ["id"]
  measurement = "rate"
`, srv.Addr), "none")
	srv.Do("XADD", "rates", "1795552004000-0", "id", "bitcoin", "usd", "97234.12")
	srv.Do("XADD", "rates", "1795552004000-1", "id", "ethereum", "usd", "3391.45")
	waitFor(t, "the entries in Telegraf's output file", func() bool {
		return fileHas(out,
			"rate,id=bitcoin usd=97234.12 1795552004000000000",
			"rate,id=ethereum usd=3391.45 1795552004000000000")
	})
	waitFor(t, "the XACK", func() bool {
		v, err := redis.Values(srv.Conn().Do("XPENDING", "rates", "telegraf"))
		return err == nil && v[0].(int64) == 0
	})
	stopTelegraf(t, tg)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 2 {
		t.Fatalf("%d lines, want each entry once:\n%s", n, data)
	}
}
