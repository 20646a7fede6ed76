package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestRefusedKeySurvivesSIGKILLWithSpoolIntegration: with spool_dir, a key of the
// wrong type is held while the other keys are written; the spool is
// committed no further than the first line of the held key, so a SIGKILL
// then loses nothing: the next start replays from there, and once the key
// is fixed its metrics arrive in order (the other keys' lines replayed
// with them arrive again: at least once).
func TestRefusedKeySurvivesSIGKILLWithSpoolIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	srv.Do("RPUSH", "t:bad", "someone else's list")
	spoolDir := filepath.Join(t.TempDir(), "spool")
	conf := writeConfig(t, fmt.Sprintf(`
[[outputs.redis]]
  address = %q
  mode = "stream"
  key = "t:{{.Name}}"
  flush_interval = "20ms"
  spool_dir = %q
`, srv.Addr, spoolDir))
	var in strings.Builder
	firstBad := int64(-1)
	var bad []string
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("m%d", i%3)
		if i%100 == 50 {
			name = "bad"
			bad = append(bad, strconv.Itoa(i))
			if firstBad < 0 {
				firstBad = int64(in.Len())
			}
		}
		fmt.Fprintf(&in, `{"fields":{"seq":%d},"name":"%s","tags":{},"timestamp":%d}`+"\n", i, name, 1795552004+i)
	}
	stdinR, stdin := osPipe(t)
	p := start(t, conf, stdinR)
	stdinR.Close()
	fmt.Fprint(stdin, in.String())
	xlen := func(key string) int {
		n, err := redis.Int(srv.Conn().Do("XLEN", key))
		if err != nil {
			return -1
		}
		return n
	}
	waitUntil(t, "the other keys written", func() bool { return xlen("t:m0")+xlen("t:m1")+xlen("t:m2") == 990 })
	waitUntil(t, "the refusal logged", func() bool { return strings.Contains(p.stderr.String(), `refused XADD to key "t:bad"`) })
	if c := committed(spoolDir); c > firstBad {
		t.Fatalf("spool committed to %d, past the held key's first line at %d", c, firstBad)
	}
	p.kill(t)

	srv.Do("DEL", "t:bad")
	out, err := exec.Command(binary, "-config", conf).CombinedOutput() // stdin: empty
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	entries, err := redis.Values(srv.Conn().Do("XRANGE", "t:bad", "-", "+"))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, 0, len(entries))
	for _, e := range entries {
		kv, err := redis.StringMap(e.([]interface{})[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, kv["seq"])
	}
	if strings.Join(got, ",") != strings.Join(bad, ",") {
		t.Fatalf("t:bad holds seqs %v, want %v\n%s\n%s", got, bad, p.stderr, out)
	}
	if n := xlen("t:m0") + xlen("t:m1") + xlen("t:m2"); n < 990 {
		t.Fatalf("%d entries for the other keys", n)
	}
}
