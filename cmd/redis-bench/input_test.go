package main

import (
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"
)

// The read ceiling reads the stream the input run is about to read and
// leaves it as it was (the other ceilings flush the server after them);
// it is counted in entries, a hundred a call; a stream too short for a
// full XRANGE, a missing key and a key of another type are refused.
func TestReadCeilingIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv, err := startRedis(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	c, err := srv.conn()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 2 * readCeilingBatch {
		if _, err := c.Do("XADD", "s", "*", "a", i, "b", "x"); err != nil {
			t.Fatal(err)
		}
		if i < readCeilingBatch-1 {
			if _, err := c.Do("XADD", "short", "*", "a", i); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := c.Do("SET", "str", "not a stream"); err != nil {
		t.Fatal(err)
	}

	v, err := srv.readCeiling("s", 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Entries, not requests: even a loaded machine does more than a
	// thousand calls a second pipelined, and no machine a billion entries.
	if v < 1000*readCeilingBatch/10 || v > 1e9 {
		t.Errorf("read ceiling %.0f entries/s: not a rate of entries", v)
	}
	if n, err := redis.Int(c.Do("XLEN", "s")); err != nil || n != 2*readCeilingBatch {
		t.Errorf("after the ceiling the stream has %d entries (%v), want %d", n, err, 2*readCeilingBatch)
	}
	if n, err := redis.Int(c.Do("DBSIZE")); err != nil || n != 3 {
		t.Errorf("after the ceiling the server has %d keys (%v), want 3", n, err)
	}

	for key, want := range map[string]string{
		"short":   "gave 99 entries, want 100",
		"missing": "gave 0 entries",
		"str":     "WRONGTYPE",
	} {
		if _, err := srv.readCeiling(key, 1000); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", key, err, want)
		}
	}
}
