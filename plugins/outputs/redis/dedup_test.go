package redis

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/mna/redisc"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/faultproxy"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// seqMetrics are n metrics m seq=<i> at distinct times.
func seqMetrics(n int) []telegraf.Metric {
	ms := make([]telegraf.Metric, n)
	for i := range ms {
		ms[i] = metric.New("m", map[string]string{"host": "a"}, map[string]interface{}{"seq": int64(i)}, time.Unix(1795552004, int64(i)))
	}
	return ms
}

var seqValueRE = regexp.MustCompile(`\bseq=(\d+)i\b`)

// seqCounts counts each seq in key, a stream (typed layout) or a list
// (line protocol).
func seqCounts(t *testing.T, srv *redistest.Server, mode, key string) map[int]int {
	t.Helper()
	seen := map[int]int{}
	if mode == "stream" {
		for v, n := range streamSeqs(t, srv, key) {
			i, err := strconv.Atoi(strings.TrimSuffix(v, "i"))
			if err != nil {
				t.Fatalf("stream %s: seq %q", key, v)
			}
			seen[i] += n
		}
		return seen
	}
	items, err := redis.Strings(srv.Conn().Do("LRANGE", key, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		m := seqValueRE.FindStringSubmatch(it)
		if m == nil {
			t.Fatalf("list %s holds %q", key, it)
		}
		i, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatalf("list %s holds %q", key, it)
		}
		seen[i]++
	}
	return seen
}

// onceEach fails unless seen holds each of 0..n-1 exactly once.
func onceEach(t *testing.T, seen map[int]int, n int, logs fmt.Stringer) {
	t.Helper()
	for i := 0; i < n; i++ {
		if seen[i] != 1 {
			t.Fatalf("seq %d written %d times (%d distinct of %d)\n%s", i, seen[i], len(seen), n, logs)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct seqs, want %d", len(seen), n)
	}
}

var skippedLineRE = regexp.MustCompile(`skipped (\d+) writes already in Redis \(sent before`)

func skippedIn(logs string) int {
	n := 0
	for _, m := range skippedLineRE.FindAllStringSubmatch(logs, -1) {
		if k, err := strconv.Atoi(m[1]); err == nil {
			n += k
		}
	}
	return n
}

// TestBuiltInRetryOfAHalfWrittenBatchIntegration: built in, a write of
// 3,000 metrics times out while Redis's replies are held back (Redis has
// applied the chunks it was sent, the plugin cannot know it), and Write
// fails; Telegraf keeps the batch and writes it again at its next flush.
// Each metric is in the stream or list once, and the log says how many
// writes of the retry were skipped as already applied.
func TestBuiltInRetryOfAHalfWrittenBatchIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	for _, mode := range []string{"stream", "list"} {
		t.Run(mode, func(t *testing.T) {
			srv := redistest.Start(t)
			proxy := faultproxy.Start(t, srv.Addr)
			logs := &syncBuffer{}
			r := startBuiltIn(t, proxy.Addr, logs, func(r *Redis) {
				r.Mode, r.Key, r.Timeout, r.Deduplicate = mode, "half", config.Duration(300*time.Millisecond), true
			})
			const n = 3000
			ms := seqMetrics(n)
			proxy.DelayReplies(time.Second)
			if err := r.Write(ms); err == nil {
				t.Fatal("the write succeeded with Redis's replies a second late")
			}
			proxy.DelayReplies(0)
			applied := len(seqCounts(t, srv, mode, "half"))
			if applied == 0 {
				t.Fatal("nothing applied before the timeout: the retry would prove nothing")
			}
			// Telegraf's flushes: the same batch until Write succeeds.
			deadline := time.Now().Add(30 * time.Second)
			for err := r.Write(ms); err != nil; err = r.Write(ms) {
				if time.Now().After(deadline) {
					t.Fatalf("retry still failing: %v\n%s", err, logs)
				}
				time.Sleep(50 * time.Millisecond)
			}
			onceEach(t, seqCounts(t, srv, mode, "half"), n, logs)
			skipped := skippedIn(logs.String())
			t.Logf("%s: %d of %d metrics applied by the write that failed; the retry skipped %d", mode, applied, n, skipped)
			if skipped < applied {
				t.Fatalf("the retry skipped %d writes, %d were applied", skipped, applied)
			}
		})
	}
}

// TestDeduplicateOffWritesTwiceIntegration: with deduplicate = false the
// same retry writes twice what the failed write had applied (the option
// does turn the scripts off), and no memory key is made.
func TestDeduplicateOffWritesTwiceIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t)
	proxy := faultproxy.Start(t, srv.Addr)
	r := startBuiltIn(t, proxy.Addr, nil, func(r *Redis) {
		r.Mode, r.Key, r.Timeout, r.Deduplicate = "list", "off", config.Duration(300*time.Millisecond), false
	})
	ms := seqMetrics(3000)
	proxy.DelayReplies(time.Second)
	if err := r.Write(ms); err == nil {
		t.Fatal("the write succeeded with Redis's replies a second late")
	}
	proxy.DelayReplies(0)
	applied := len(seqCounts(t, srv, "list", "off"))
	deadline := time.Now().Add(30 * time.Second)
	for err := r.Write(ms); err != nil; err = r.Write(ms) {
		if time.Now().After(deadline) {
			t.Fatalf("retry still failing: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	dups := 0
	for _, c := range seqCounts(t, srv, "list", "off") {
		dups += c - 1
	}
	if dups != applied || applied == 0 {
		t.Fatalf("%d written twice, %d applied by the failed write", dups, applied)
	}
	if keys := mustStrings(t)(srv.Conn().Do("KEYS", "telegraf-redis:idem:*")); len(keys) != 0 {
		t.Fatalf("memory keys made with deduplicate = false: %v", keys)
	}
}

// TestDeduplicateHostileIntegration: the ids and the memory under abuse.
func TestDeduplicateHostileIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t)
	at := time.Unix(1795552004, 0)
	one := func(tags map[string]string, fields map[string]interface{}) telegraf.Metric {
		return metric.New("m", tags, fields, at)
	}

	// One point is one point: the same metric twice in a batch, again in
	// the next, and with its tags given in another order, is one entry;
	// a value of another type, or another time, is another point.
	t.Run("same point", func(t *testing.T) {
		r := startBuiltIn(t, srv.Addr, nil, func(r *Redis) { r.Mode, r.Key, r.Deduplicate = "stream", "points", true })
		a := one(map[string]string{"a": "1", "b": "2"}, map[string]interface{}{"v": int64(1), "w": "x"})
		b := one(map[string]string{"b": "2", "a": "1"}, map[string]interface{}{"w": "x", "v": int64(1)})
		asFloat := one(map[string]string{"a": "1", "b": "2"}, map[string]interface{}{"v": 1.0, "w": "x"})
		later := metric.New("m", map[string]string{"a": "1", "b": "2"}, map[string]interface{}{"v": int64(1), "w": "x"}, at.Add(time.Nanosecond))
		for _, batch := range [][]telegraf.Metric{{a, a}, {b}, {asFloat, later}} {
			if err := r.Write(batch); err != nil {
				t.Fatal(err)
			}
		}
		if n := mustInt(t)(srv.Conn().Do("XLEN", "points")); n != 3 {
			t.Fatalf("XLEN %d, want 3 (a, a as float, a a nanosecond later)", n)
		}
	})

	// Someone else's value at the memory's key: the write is refused with
	// the reason, nothing is written; once the key is gone, the retry
	// writes every metric once.
	t.Run("memory key taken", func(t *testing.T) {
		logs := &syncBuffer{}
		r := startBuiltIn(t, srv.Addr, logs, func(r *Redis) { r.Mode, r.Key, r.Deduplicate = "list", "taken", true })
		ms := seqMetrics(10)
		if err := r.Write(ms[:1]); err != nil {
			t.Fatal(err)
		}
		keys, err := redis.Strings(srv.Conn().Do("KEYS", "telegraf-redis:idem:*:taken"))
		if err != nil || len(keys) != 1 {
			t.Fatalf("memory keys %v %v", keys, err)
		}
		srv.Do("SET", keys[0], "not a sorted set")
		err = r.Write(ms)
		if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
			t.Fatalf("write with the memory key taken: %v", err)
		}
		if n := mustInt(t)(srv.Conn().Do("LLEN", "taken")); n != 1 {
			t.Fatalf("LLEN %d after the refused write, want 1", n)
		}
		srv.Do("DEL", keys[0])
		deadline := time.Now().Add(30 * time.Second)
		for err := r.Write(ms); err != nil; err = r.Write(ms) {
			if time.Now().After(deadline) {
				t.Fatalf("retry still failing: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The memory was lost with the key: metric 0 is written again,
		// the one duplicate a memory deleted by hand allows.
		seen := seqCounts(t, srv, "list", "taken")
		if seen[0] != 2 || len(seen) != 10 {
			t.Fatalf("%v", seen)
		}
		for i := 1; i < 10; i++ {
			if seen[i] != 1 {
				t.Fatalf("seq %d written %d times", i, seen[i])
			}
		}
	})

	// The memory is bounded: at most deduplicate_max_ids ids, expiring
	// after deduplicate_window; a key of its own per written key, in the
	// written key's cluster slot whatever braces that key has.
	t.Run("bounded memory", func(t *testing.T) {
		r := startBuiltIn(t, srv.Addr, nil, func(r *Redis) {
			r.Mode, r.Key, r.Deduplicate = "stream", "b{x}}:{{.Tag \"host\"}}", true
			r.DeduplicateMaxIDs, r.DeduplicateWindow = 1024, config.Duration(time.Minute)
		})
		ms := seqMetrics(3000)
		for i := 0; i < len(ms); i += 500 {
			if err := r.Write(ms[i : i+500]); err != nil {
				t.Fatal(err)
			}
		}
		keys, err := redis.Strings(srv.Conn().Do("KEYS", "telegraf-redis:idem:*:b{x}}:a"))
		if err != nil || len(keys) != 1 {
			t.Fatalf("memory keys %v %v", keys, err)
		}
		c := srv.Conn()
		if n := mustInt(t)(c.Do("ZCARD", keys[0])); n != 1024 {
			t.Fatalf("memory holds %d ids, want 1024", n)
		}
		if ttl := mustInt(t)(c.Do("PTTL", keys[0])); ttl <= 0 || ttl > 60000 {
			t.Fatalf("memory PTTL %d", ttl)
		}
		if a, b := redisc.Slot("b{x}}:a"), redisc.Slot(keys[0]); a != b {
			t.Fatalf("key in slot %d, its memory in slot %d", a, b)
		}
	})
}

// dedupACL is what deduplicate adds to a stream or list user, as the
// README's ACL table says.
var dedupACL = []string{"+script|load", "+evalsha", "+zmscore", "+zadd", "+zremrangebyscore", "+zremrangebyrank",
	"+zcard", "+pexpire", "~telegraf-redis:idem:*"}

// TestMinimalACLWithDeduplicateIntegration: a stream or list user with
// the mode's commands and what the README adds for deduplicate writes,
// and no more; without +script|load the write is refused, kept, and goes
// through once the permission is granted.
func TestMinimalACLWithDeduplicateIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t)
	for _, mode := range []string{"stream", "list"} {
		t.Run(mode, func(t *testing.T) {
			srv.Do("FLUSHALL")        // the modes share the key
			srv.Do("SCRIPT", "FLUSH") // and the script is not cached
			user := "dedup-" + mode
			args := []interface{}{"SETUSER", user, "reset", "on", ">pw"}
			for _, r := range slices.Concat(minimalACL[mode], dedupACL) {
				if r != "+script|load" {
					args = append(args, r)
				}
			}
			srv.Do("ACL", args...)
			logs := &syncBuffer{}
			r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
				r.Mode, r.Username, r.Password, r.Deduplicate = mode, config.NewSecret([]byte(user)), config.NewSecret([]byte("pw")), true
				r.Expire = config.Duration(time.Hour)
				r.Timeout = config.Duration(500 * time.Millisecond)
				if mode == "list" {
					r.ListMaxLength = 10
				}
			})
			pr, pw := io.Pipe()
			stats := &Stats{}
			done := make(chan error, 1)
			go func() { done <- r.Run(context.Background(), pr, stats) }()
			go func() {
				if _, err := io.WriteString(pw, cpuLines+cpuLines); err != nil { // each metric twice
					t.Error(err)
				}
			}()
			waitFor(t, func() bool { return strings.Contains(logs.String(), "NOPERM") })
			if stats.Written.Load() != 0 {
				t.Fatalf("written without the script: %d\n%s", stats.Written.Load(), logs)
			}
			srv.Do("ACL", "SETUSER", user, "+script|load")
			pw.Close()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%v\n%s", err, logs)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("not written after the grant:\n%s", logs)
			}
			want := strings.Count(cpuLines, "\n")
			length := "LLEN"
			if mode == "stream" {
				length = "XLEN"
			}
			n := mustInt(t)(srv.Conn().Do(length, "telegraf:cpu"))
			if n != want {
				t.Fatalf("%d entries, want %d (each metric once)\n%s", n, want, logs)
			}
		})
	}
}

// mustInt reads an integer reply, failing the test on an error.
func mustInt(t *testing.T) func(v interface{}, err error) int {
	return func(v interface{}, err error) int {
		t.Helper()
		n, err := redis.Int(v, err)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// mustStrings reads an array reply of strings, failing the test on an error.
func mustStrings(t *testing.T) func(v interface{}, err error) []string {
	return func(v interface{}, err error) []string {
		t.Helper()
		ss, err := redis.Strings(v, err)
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
}

// mustValues reads an array reply, failing the test on an error.
func mustValues(t *testing.T) func(v interface{}, err error) []interface{} {
	return func(v interface{}, err error) []interface{} {
		t.Helper()
		vs, err := redis.Values(v, err)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
}
