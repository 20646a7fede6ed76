package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

func spooled(dir string) int64 {
	var n int64
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	for _, s := range segs {
		if st, err := os.Stat(s); err == nil {
			n += st.Size()
		}
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSpoolSurvivesSIGKILL: with spool_dir, what redis-output read is on
// disk before it is decoded. Half the stream reaches Redis; Redis dies;
// the other half is read and held; redis-output is SIGKILLed. The next
// start replays exactly what was not yet in Redis: every metric arrives,
// none twice.
func TestSpoolSurvivesSIGKILL(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	conf := writeConfig(t, fmt.Sprintf(`
[[outputs.redis]]
  address = %q
  timeout = "500ms"
  mode = "stream"
  key = "metrics"
  spool_dir = %q
`, srv.Addr, spoolDir))
	var lines []string
	for i := 0; i < 1000; i++ {
		lines = append(lines, fmt.Sprintf(`{"fields":{"seq":%d},"name":"m","tags":{},"timestamp":%d}`, i, 1795552004+i))
	}

	cmd := exec.Command(binary, "-config", conf)
	stdin, _ := cmd.StdinPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	fmt.Fprintln(stdin, strings.Join(lines[:500], "\n"))
	waitUntil(t, "500 entries in Redis", func() bool {
		n, _ := redis.Int(srv.Conn().Do("XLEN", "metrics"))
		return n == 500
	})
	time.Sleep(300 * time.Millisecond) // the commit follows the write
	srv.Kill()
	rest := strings.Join(lines[500:], "\n") + "\n"
	fmt.Fprint(stdin, rest)
	all := int64(len(strings.Join(lines, "\n")) + 1)
	waitUntil(t, "the second half in the spool", func() bool { return spooled(spoolDir) >= all })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	srv.Restart()
	again := exec.Command(binary, "-config", conf) // stdin: empty, at its end at once
	out, err := again.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "[outputs.redis] replaying") {
		t.Fatalf("no replay said:\n%s", out)
	}
	entries, _ := redis.Values(srv.Conn().Do("XRANGE", "metrics", "-", "+"))
	seen := map[string]int{}
	for _, e := range entries {
		kv, _ := redis.StringMap(e.([]interface{})[1], nil)
		seen[kv["seq"]]++
	}
	for i := 0; i < 1000; i++ {
		if seen[fmt.Sprint(i)] != 1 {
			t.Fatalf("seq %d arrived %d times (%d entries)\n%s", i, seen[fmt.Sprint(i)], len(entries), out)
		}
	}
	// Everything is in Redis: the spool holds nothing more.
	third, err := exec.Command(binary, "-config", conf).CombinedOutput()
	if err != nil || strings.Contains(string(third), "replaying") {
		t.Fatalf("%v: %s", err, third)
	}
}
