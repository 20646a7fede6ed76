package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// gone reports whether process pid has ended (a zombie has: nobody may be
// left to reap an orphan).
func gone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// blockedRead reports whether a redis-input connection waits in an
// XREADGROUP ... BLOCK that began less than a second ago (CLIENT LIST's
// idle is in whole seconds), so that it has most of its block left.
func blockedRead(t *testing.T, srv *redistest.Server) bool {
	t.Helper()
	list, err := redis.String(srv.Conn().Do("CLIENT", "LIST"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(list, "\n") {
		f := " " + l + " "
		if strings.Contains(f, " name=telegraf-redis-input ") && strings.Contains(f, " cmd=xreadgroup ") &&
			strings.Contains(f, " flags=b ") && strings.Contains(f, " idle=0 ") {
			return true
		}
	}
	return false
}

// TestTelegrafKilledBeforeTheLineIsWrittenIntegration is the case the input's
// delivery guarantee covers: Telegraf dies (SIGKILL) while redis-input
// waits for entries. redis-input lives on, reads the next entries, cannot
// write their lines (the pipe to Telegraf is gone), so never XACKs them;
// they stay pending for its consumer, and the next Telegraf's redis-input,
// under another consumer name, claims them and delivers every one, whole,
// with the entries nobody had read.
// (What Telegraf had already read from the pipe and held in its buffer
// when it died is lost: the README says so; no test can make Telegraf keep
// it.)
func TestTelegrafKilledBeforeTheLineIsWrittenIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	w := startWriter(t, srv, "  mode = \"stream\"\n  key = \"metrics\"\n  flush_interval = \"20ms\"\n")
	conf := `
[[inputs.redis_consumer]]
  address = %q
  timeout = "10s"
  mode = "stream"
  key = "metrics"
  consumer = %q
  block = %q
  claim_idle = "1s"
`
	// A long block, so that Telegraf dies while the read waits.
	out1, tg1 := runTelegraf(t, fmt.Sprintf(conf, srv.Addr, "first", "5s"), "none")
	w.write(t, 0, 10)
	before := expected(t, 0, 10)
	waitFor(t, "the first metrics through the first Telegraf", func() bool { missing, _ := count(t, out1, before); return missing == 0 })

	children := tg1.Children()
	if len(children) != 1 {
		t.Fatalf("telegraf has %d children", len(children))
	}
	input := children[0]
	waitFor(t, "redis-input waiting in a fresh XREADGROUP BLOCK", func() bool { return blockedRead(t, srv) })
	// Telegraf alone, not its process group: its child lives on.
	if err := syscall.Kill(tg1.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Telegraf to die", tg1.Exited)
	w.write(t, 10, 20)
	w.close(t)
	waitFor(t, "the orphaned redis-input to end", func() bool { return gone(input) })
	// Its blocked read returned with the first entries added (at least
	// one); it read them and could not write them, so they are pending
	// for it. The others were never delivered.
	claimed := pendingFor(t, srv, "first")
	if claimed == 0 {
		t.Fatal("no entry pending for the dead consumer: it did not read after Telegraf died")
	}

	out2, tg2 := runTelegraf(t, fmt.Sprintf(conf, srv.Addr, "second", "100ms"), "none")
	after := expected(t, 10, 20)
	waitFor(t, "the claimed metrics through the second Telegraf", func() bool { missing, _ := count(t, out2, after); return missing == 0 })
	stopTelegraf(t, tg2)
	if missing, dups := count(t, out2, after); missing != 0 || dups != 0 {
		t.Fatalf("%d missing, %d duplicates", missing, dups)
	}
	if left, err := redis.Values(srv.Conn().Do("XPENDING", "metrics", "telegraf", "-", "+", 10)); err != nil || len(left) != 0 {
		t.Fatalf("%d entries still pending", len(left))
	}
	if !strings.Contains(tg2.Output(), fmt.Sprintf("claimed %d entries pending for more than 1s", claimed)) {
		t.Fatalf("the %d entries were not claimed:\n%s", claimed, tg2.Output())
	}
	t.Logf("%d entries read by the orphaned redis-input, claimed and delivered; 10 metrics after the kill, all whole", claimed)
}

// TestTelegrafKilledAfterTheLineIsWrittenIntegration is the case the guarantee does
// not cover, pinned so that the README stays exact: once a line is written
// to Telegraf's stdin its entry is XACKed, and what Telegraf holds in its
// buffer (here: all of it, its flush_interval being an hour) dies with it.
// [[inputs.execd]] acknowledges nothing, so redis-input cannot know.
func TestTelegrafKilledAfterTheLineIsWrittenIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	w := startWriter(t, srv, "  mode = \"stream\"\n  key = \"metrics\"\n  flush_interval = \"20ms\"\n")
	out, tg := runTelegrafFlushing(t, fmt.Sprintf(`
[[inputs.redis_consumer]]
  address = %q
  mode = "stream"
  key = "metrics"
  consumer = "first"
  block = "100ms"
`, srv.Addr), "none", "1h")
	w.write(t, 0, 10)
	w.close(t)
	waitFor(t, "every entry read and acknowledged", func() bool {
		last, err := redis.Values(srv.Conn().Do("XREVRANGE", "metrics", "+", "-", "COUNT", 1))
		if err != nil || len(last) != 1 {
			return false
		}
		groups, err := redis.Values(srv.Conn().Do("XINFO", "GROUPS", "metrics"))
		if err != nil || len(groups) != 1 {
			return false
		}
		entry, err := redis.Values(last[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		group, err := redis.Values(groups[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		delivered := ""
		for i := 0; i+1 < len(group); i += 2 {
			if k, ok := group[i].([]byte); ok && string(k) == "last-delivered-id" {
				if delivered, err = redis.String(group[i+1], nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		n, err := redis.Int(srv.Conn().Do("XLEN", "metrics"))
		return err == nil && n == 10 && delivered == string(entry[0].([]byte)) && pendingFor(t, srv, "first") == 0
	})
	tg.Kill()
	if missing, _ := count(t, out, expected(t, 0, 10)); missing != 10 {
		t.Fatalf("%d of 10 metrics missing; Telegraf had not flushed, all 10 should be", missing)
	}
	if left, err := redis.Values(srv.Conn().Do("XPENDING", "metrics", "telegraf", "-", "+", 10)); err != nil || len(left) != 0 {
		t.Fatalf("%d entries pending: they were written to Telegraf and acknowledged", len(left))
	}
}
