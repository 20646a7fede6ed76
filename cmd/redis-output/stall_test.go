package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/faultproxy"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestExitLineTellsUnknownFromLostIntegration: SIGTERM while Redis is stalled (up,
// but answering nothing). The metrics of the write in flight were sent
// and got no reply: they may be in Redis. The exit line used to count
// them as lost with the rest; now it says which is which.
func TestExitLineTellsUnknownFromLostIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	proxy := faultproxy.Start(t, srv.Addr)
	conf := writeConfig(t, fmt.Sprintf(`
[[outputs.redis]]
  address = %q
  timeout = "500ms"
  mode = "list"
  key = "stalled"
  flush_interval = "10ms"
`, proxy.Addr))
	stdinR, stdin := osPipe(t)
	p := start(t, conf, stdinR)
	stdinR.Close()
	fmt.Fprint(stdin, seqLines(0, 10))
	waitUntil(t, "the first 10 in Redis", func() bool { return listLen(srv, "stalled") == 10 })
	proxy.Stall()
	fmt.Fprint(stdin, seqLines(10, 60))
	waitUntil(t, "a write in flight", func() bool { return proxy.Held() > 0 })
	signal(t, p.cmd, syscall.SIGTERM)
	if err := p.wait(t); err == nil {
		t.Fatalf("exit 0 with metrics left:\n%s", p.stderr)
	}
	log := p.stderr.String()
	// The first 10 are in Redis; their reply may still be on its way
	// when the proxy stalls, and then they count as unknown too.
	m := regexp.MustCompile(`I! \[outputs\.redis\] read \d+ lines, (\d+) metrics; wrote (0|10) metrics in \d+ updates; rejected 0 lines; ` +
		`not written (\d+) metrics, unknown (\d+) \(sent, no reply\)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("exit line:\n%s", log)
	}
	read, err := strconv.Atoi(m[1]) // a stop ends reading: maybe not all 60
	if err != nil {
		t.Fatal(err)
	}
	written, err := strconv.Atoi(m[2])
	if err != nil {
		t.Fatal(err)
	}
	notWritten, err := strconv.Atoi(m[3])
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := strconv.Atoi(m[4])
	if err != nil {
		t.Fatal(err)
	}
	if unknown < 1 || written+notWritten+unknown != read || !strings.Contains(log, "sent without a reply (Redis stalled") {
		t.Fatalf("not written %d, unknown %d:\n%s", notWritten, unknown, log)
	}
}

func osPipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return r, w
}
