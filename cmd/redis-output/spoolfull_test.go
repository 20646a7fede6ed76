package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// Issue 19, section 2: a commit offset past the end of the data.

// streamSeqs counts each seq in a stream.
func streamSeqs(t *testing.T, srv *redistest.Server, key string) map[int]int {
	t.Helper()
	entries, err := redis.Values(srv.Conn().Do("XRANGE", key, "-", "+"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for _, e := range entries {
		kv, _ := redis.StringMap(e.([]interface{})[1], nil)
		n, err := strconv.Atoi(kv["seq"])
		if err != nil {
			t.Fatalf("stream %s holds %v", key, kv)
		}
		seen[n]++
	}
	return seen
}

func streamConfig(t *testing.T, addr, spoolDir, extra string) string {
	return writeConfig(t, fmt.Sprintf(`
[[outputs.redis]]
  address = %q
  timeout = "500ms"
  mode = "stream"
  key = "full"
  flush_interval = "20ms"
  spool_dir = %q
%s
`, addr, spoolDir, extra))
}

// TestSpoolCommitPastTheEndIntegration is section 2's reproduction: 50
// lines spooled with Redis down, a kill, the commit file set past the end
// of the data, a start with Redis up. Nothing was replayed and nothing
// said; now it is a W! and all 50 lines are replayed.
func TestSpoolCommitPastTheEndIntegration(t *testing.T) {
	for _, offset := range []string{"99999999999", "9223372036854775807"} {
		srv := redistest.Start(t)
		srv.Kill()
		spoolDir := filepath.Join(t.TempDir(), "spool")
		conf := streamConfig(t, srv.Addr, spoolDir, "")
		in := seqLines(0, 50)
		p := start(t, conf, strings.NewReader(in))
		waitUntil(t, "50 lines spooled", func() bool { return spooled(spoolDir) == int64(len(in)) })
		p.kill(t)
		if err := os.WriteFile(filepath.Join(spoolDir, "committed"), []byte(offset+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		srv.Restart()
		p = start(t, conf, nil)
		if err := p.wait(t); err != nil {
			t.Fatalf("%s: %v\n%s", offset, err, p.stderr)
		}
		exactlyOnce(t, "stream full", streamSeqs(t, srv, "full"), 0, 50)
		want := fmt.Sprintf("W! [outputs.redis] spool %s: the commit file says %s, past the end of the data held (%d): taken as torn, replaying all %d bytes", spoolDir, offset, len(in), len(in))
		if !strings.Contains(p.stderr.String(), want) {
			t.Fatalf("%s: no W!:\n%s", offset, p.stderr)
		}
	}
}
