package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
)

// TestExecdWaitsForRedisAtStartIntegration: under execd the program does
// not stop when Redis is not up at start (Telegraf's startup rules are
// for plugins built in): it holds what it read, says so once, and writes
// it when Redis comes up.
func TestExecdWaitsForRedisAtStartIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t)
	srv.Kill()
	conf := writeConfig(t, fmt.Sprintf("[[outputs.redis]]\n  address = %q\n  timeout = \"500ms\"\n", srv.Addr))
	cmd := exec.Command(binary, "-config", conf)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { // also when the test fails first
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Error(err)
		}
	}()
	fmt.Fprintln(stdin, quoteLine)
	waitUntil(t, "the outage line", func() bool {
		return strings.Contains(stderr.String(), "W! [outputs.redis] Redis at "+srv.Addr+" is unavailable")
	})
	srv.Restart()
	waitUntil(t, "the quote in Redis", func() bool {
		got, err := redis.String(srv.Do("GET", "coingecko:rate:usd"), nil)
		return err == nil && strings.Contains(got, `"bitcoin"`)
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v:\n%s", err, stderr.String())
	}
}
