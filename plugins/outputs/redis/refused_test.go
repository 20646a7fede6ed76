package redis

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/commands"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// Commands Redis refuses for their key (WRONGTYPE, NOPERM): the key is held
// with its metrics in order, the other keys are written at once, and one
// line says so; see refusals.go.

// namedLine is a metric named name (its key, with key = "t:{{.Name}}")
// carrying seq.
func namedLine(name string, seq int) string {
	return fmt.Sprintf(`{"fields":{"seq":%d},"name":"%s","tags":{},"timestamp":%d}`+"\n", seq, name, 1795552004+seq)
}

// streamOrder returns the seqs of a stream, in the order of its entries.
func streamOrder(t *testing.T, srv *redistest.Server, key string) []string {
	t.Helper()
	entries, err := redis.Values(srv.Conn().Do("XRANGE", key, "-", "+"))
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]string, 0, len(entries))
	for _, e := range entries {
		kv := mustStringMap(t)(e.([]interface{})[1], nil)
		seqs = append(seqs, kv["seq"])
	}
	return seqs
}

// inOrder fails unless key's stream holds exactly want, in that order.
func inOrder(t *testing.T, srv *redistest.Server, key string, want []int, logs fmt.Stringer) {
	t.Helper()
	got := streamOrder(t, srv, key)
	if len(got) != len(want) {
		t.Fatalf("%s holds %d entries, want %d\n%s", key, len(got), len(want), logs)
	}
	for i := range want {
		if got[i] != strconv.Itoa(want[i]) {
			t.Fatalf("%s entry %d is seq %s, want %d (entries %v)", key, i, got[i], want[i], got)
		}
	}
}

// waitLong is waitFor with a deadline of its own.
func waitLong(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func logLines(logs fmt.Stringer, prefix string) []string {
	var out []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// TestWrongTypeKeyDoesNotHoldOtherKeysIntegration: one key holds a list
// while 20,000 metrics for ten other keys stream in (stream mode, a backlog
// of 1,000). Every other metric is written while the key is still wrong
// (it used to throttle them all: the whole flusher backed off, up to 30 s);
// one E! line names the key and what it holds, TYPE is asked once, and the
// refused key is retried with backoff, not at every write. Then the key is
// fixed: its 100 metrics arrive, in the order they came, and one I! line
// says so.
func TestWrongTypeKeyDoesNotHoldOtherKeysIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("RPUSH", "t:bad", "someone else's list")
	srv.Do("CONFIG", "RESETSTAT")
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Key = "stream", "t:{{.Name}}"
		r.MetricBatchSize, r.MaxUndeliveredMetrics = 100, 1000
	})
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()

	var bad []int
	others := map[string][]int{}
	go func() {
		var b strings.Builder
		for i := 0; i < 20100; i++ {
			name := fmt.Sprintf("m%d", i%10)
			if i%201 == 100 {
				name = "bad"
			}
			b.WriteString(namedLine(name, i))
			if b.Len() > 32<<10 {
				if _, err := io.WriteString(pw, b.String()); err != nil {
					t.Error(err)
					return
				}
				b.Reset()
			}
		}
		if _, err := io.WriteString(pw, b.String()); err != nil {
			t.Error(err)
		}
		pw.Close()
	}()
	for i := 0; i < 20100; i++ {
		if i%201 == 100 {
			bad = append(bad, i)
		} else {
			others[fmt.Sprintf("m%d", i%10)] = append(others[fmt.Sprintf("m%d", i%10)], i)
		}
	}
	if len(bad) != 100 {
		t.Fatalf("%d bad lines", len(bad))
	}

	waitFor(t, func() bool { return stats.Written.Load() >= 20000 })
	for name, seqs := range others {
		inOrder(t, srv, "t:"+name, seqs, logs)
	}
	if n := stats.Written.Load(); n != 20000 {
		t.Fatalf("written %d, want the 20000 for the other keys", n)
	}
	info := mustString(t)(srv.Conn().Do("INFO", "commandstats"))
	if n := cmdStat(info, "type")["calls"]; n != 1 {
		t.Fatalf("TYPE asked %d times, want once", n)
	}
	// Refused XADDs: those of the first pipelines that held t:bad, then one
	// per retry of the key; not one per write of the other keys.
	if n := failedCalls(info, "xadd"); n > 30 {
		t.Fatalf("%d XADDs refused: the held key is sent at every write", n)
	}
	if typ := mustString(t)(srv.Conn().Do("TYPE", "t:bad")); typ != "list" {
		t.Fatalf("t:bad is a %s", typ)
	}
	errs := logLines(logs, "E! ")
	want := `E! [outputs.redis] Redis at ` + srv.Addr + ` refused XADD to key "t:bad" (it holds a list, not a stream): WRONGTYPE Operation ` +
		`against a key holding the wrong kind of value; the key's metrics are kept in order and retried with backoff up to 30s`
	if len(errs) != 1 || !strings.HasPrefix(errs[0], want) {
		t.Fatalf("want one line %q:\n%s", want, logs)
	}

	srv.Do("DEL", "t:bad")
	// Retries of the key are at most 30 s apart.
	waitLong(t, 40*time.Second, "the held metrics written", func() bool { return stats.Written.Load() == 20100 })
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not end after writing everything:\n%s", logs)
	}
	inOrder(t, srv, "t:bad", bad, logs)
	infos := logLines(logs, "I! [outputs.redis] Redis at "+srv.Addr+` took XADD to key "t:bad" at last`)
	if len(infos) != 1 || !strings.Contains(infos[0], "the 99 metrics for the key kept meanwhile follow in order") {
		t.Fatalf("want one I! line for the key and the 99 metrics that waited:\n%s", logs)
	}
	if len(logLines(logs, "E! ")) != 1 || len(logLines(logs, "W! ")) != 0 {
		t.Fatalf("log:\n%s", logs)
	}
}

// cmdStat reads the counters of a command from INFO commandstats: calls
// (failed ones included), failed_calls, rejected_calls.
func cmdStat(info, name string) map[string]int {
	out := map[string]int{}
	for _, l := range strings.Split(info, "\n") {
		if !strings.HasPrefix(l, "cmdstat_"+name+":") {
			continue
		}
		for _, kv := range strings.Split(strings.TrimSpace(strings.TrimPrefix(l, "cmdstat_"+name+":")), ",") {
			k, v, _ := strings.Cut(kv, "=")
			// A value that is not an integer (none of those read) is left
			// out.
			var x int
			if _, err := fmt.Sscan(v, &x); err == nil {
				out[k] = x
			}
		}
	}
	return out
}

// failedCalls is the calls of a command that Redis refused.
func failedCalls(info, name string) int {
	s := cmdStat(info, name)
	return s["failed_calls"] + s["rejected_calls"]
}

// okCalls is the calls of a command that Redis carried out.
func okCalls(info, name string) int {
	s := cmdStat(info, name)
	return s["calls"] - s["failed_calls"]
}

// Hostile: two keys of the wrong type, and only one of them fixed. The
// fixed key's metrics arrive in order; the other stays held, with its own
// line and none when the first is written, and the other keys go on being
// written meanwhile.
func TestTwoWrongTypeKeysOneFixedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("RPUSH", "t:bad1", "a list")
	srv.Do("HSET", "t:bad2", "a", "hash")
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Key = "stream", "t:{{.Name}}"
		r.MetricBatchSize, r.MaxUndeliveredMetrics = 100, 1000
	})
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()

	seqs := map[string][]int{}
	lines := func(from, to int, withBad bool) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			name := fmt.Sprintf("m%d", i%3)
			switch {
			case withBad && i%40 == 7:
				name = "bad1"
			case withBad && i%40 == 27:
				name = "bad2"
			}
			seqs[name] = append(seqs[name], i)
			b.WriteString(namedLine(name, i))
		}
		return b.String()
	}
	first := lines(0, 2000, true) // 50 metrics for each bad key
	go func() {
		if _, err := io.WriteString(pw, first); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, func() bool { return stats.Written.Load() >= 1900 })
	if n := stats.Written.Load(); n != 1900 {
		t.Fatalf("written %d, want the 1900 for the good keys", n)
	}
	for key, typ := range map[string]string{"t:bad1": "list", "t:bad2": "hash"} {
		named := 0
		for _, l := range logLines(logs, "E! ") {
			if strings.Contains(l, fmt.Sprintf("%q (it holds a %s, not a stream)", key, typ)) {
				named++
			}
		}
		if named != 1 {
			t.Fatalf("%s named in %d E! lines, want 1:\n%s", key, named, logs)
		}
	}

	srv.Do("DEL", "t:bad1")
	waitLong(t, 40*time.Second, "t:bad1's metrics", func() bool { return stats.Written.Load() == 1950 })
	inOrder(t, srv, "t:bad1", seqs["bad1"], logs)
	if typ := mustString(t)(srv.Conn().Do("TYPE", "t:bad2")); typ != "hash" {
		t.Fatalf("t:bad2 is a %s", typ)
	}
	if n := len(logLines(logs, "I! ")); n != 1 || !strings.Contains(logs.String(), `took XADD to key "t:bad1" at last`) {
		t.Fatalf("want one I! line, for t:bad1:\n%s", logs)
	}
	// The other keys still go on while t:bad2 is held.
	if _, err := io.WriteString(pw, lines(2000, 3000, false)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return stats.Written.Load() == 2950 })

	srv.Do("DEL", "t:bad2")
	pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("t:bad2 not written after it was fixed:\n%s", logs)
	}
	for name, want := range seqs {
		inOrder(t, srv, "t:"+name, want, logs)
	}
	if n := len(logLines(logs, "I! ")); n != 2 {
		t.Fatalf("want two I! lines:\n%s", logs)
	}
}

// Hostile: the first and the last metric of one large pipelined write
// (three chunks and more, list mode with list_max_length and expire, so
// each metric is RPUSH, LTRIM and PEXPIRE) go to keys holding strings. The
// first command and the last three of the write are refused or follow a
// refused one; everything between is written once, in that write. After the
// fix each held metric arrives with its LTRIM and PEXPIRE after it: the key
// has its expiry (a PEXPIRE that Redis took on the wrong value before
// counted for nothing).
func TestWrongTypeFirstAndLastOfABatchIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	n := 3*commands.PipelineChunk + 7
	var in strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, `{"fields":{"v":%d},"name":"cpu","tags":{"host":"h%05d"},"timestamp":1795552004}`+"\n", i, i)
	}
	bad := []string{"l:h00000", fmt.Sprintf("l:h%05d", n-1)}
	for _, k := range bad {
		srv.Do("SET", k, "not a list")
	}
	srv.Do("CONFIG", "RESETSTAT")
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Key, r.ListMaxLength, r.Expire = "list", `l:{{.Tag "host"}}`, 5, config.Duration(time.Hour)
		r.MetricBatchSize, r.MaxUndeliveredMetrics = n, n // one write of every chunk
		r.FlushInterval = config.Duration(time.Hour)
	})
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), strings.NewReader(in.String()), stats) }()
	waitFor(t, func() bool { return stats.Written.Load() == int64(n-2) })
	waitFor(t, func() bool { return len(logLines(logs, "E! ")) > 0 })
	info := mustString(t)(srv.Conn().Do("INFO", "commandstats"))
	if calls := okCalls(info, "rpush"); calls != n-2 {
		t.Fatalf("%d RPUSH carried out for %d metrics to good keys: something was sent twice", calls, n-2)
	}
	errs := logLines(logs, "E! ")
	want := `refused RPUSH to 2 keys: "l:h00000" (it holds a string, not a list), "` + bad[1] + `" (it holds a string, not a list): WRONGTYPE`
	if len(errs) != 1 || !strings.Contains(errs[0], want) {
		t.Fatalf("want one line naming both keys:\n%s", logs)
	}
	for _, k := range bad {
		srv.Do("DEL", k)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("not written after the keys were fixed:\n%s", logs)
	}
	for _, k := range bad {
		if l := mustInt(t)(srv.Conn().Do("LLEN", k)); l != 1 {
			t.Fatalf("%s has %d elements", k, l)
		}
		if ttl, err := redis.Int64(srv.Conn().Do("PTTL", k)); err != nil || ttl <= 0 {
			t.Fatalf("%s has no expiry (PTTL %d, %v): its PEXPIRE went before its RPUSH", k, ttl, err)
		}
	}
	if w := stats.Written.Load(); w != int64(n) {
		t.Fatalf("written %d, want %d", w, n)
	}
	if len(logLines(logs, "W! ")) != 0 {
		t.Fatalf("log:\n%s", logs)
	}
}

// Hostile: a refusal that needs an operator but is not about the type, a
// missing permission on one key (NOPERM, ACL key patterns). It is one E!
// line naming the key, however many retries; the other keys are written;
// once the permission is granted the key's metrics arrive in order.
func TestKeyPermissionRefusedOnceIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("ACL", "SETUSER", "writer", "reset", "on", ">pw", "+client|setname", "+xadd", "~t:ok*")
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Key = "stream", "t:{{.Name}}"
		r.Username, r.Password = config.NewSecret([]byte("writer")), config.NewSecret([]byte("pw"))
	})
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	seqs := map[string][]int{}
	var b strings.Builder
	for i := 0; i < 1000; i++ {
		name := "ok" + strconv.Itoa(i%2)
		if i%10 == 3 {
			name = "secret"
		}
		seqs[name] = append(seqs[name], i)
		b.WriteString(namedLine(name, i))
	}
	go func() {
		if _, err := io.WriteString(pw, b.String()); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, func() bool { return stats.Written.Load() >= 900 })
	// Several retries of the key, still one line.
	srv.Do("CONFIG", "RESETSTAT")
	waitFor(t, func() bool {
		info := mustString(t)(srv.Conn().Do("INFO", "commandstats"))
		return failedCalls(info, "xadd") >= 3
	})
	if n := stats.Written.Load(); n != 900 {
		t.Fatalf("written %d", n)
	}
	errs := logLines(logs, "E! ")
	if len(errs) != 1 || !strings.HasPrefix(errs[0], `E! [outputs.redis] Redis at `+srv.Addr+` refused XADD to key "t:secret": NOPERM`) {
		t.Fatalf("want one E! line naming the key:\n%s", logs)
	}
	srv.Do("ACL", "SETUSER", "writer", "~t:secret")
	waitLong(t, 40*time.Second, "the key's metrics after the grant", func() bool { return stats.Written.Load() == 1000 })
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for name, want := range seqs {
		inOrder(t, srv, "t:"+name, want, logs)
	}
	if len(logLines(logs, "E! ")) != 1 || len(logLines(logs, "I! ")) != 1 {
		t.Fatalf("log:\n%s", logs)
	}
}

// Hostile: out of memory refuses every key alike (it is the server's
// state, not a key's), so it stops the whole write as an outage does: one
// W! line (Redis lifts it by itself once memory is freed: expiry, trimming
// consumers), not one per key or per retry, and an I! line when it is
// over; nothing is lost.
func TestOutOfMemoryIsOneLineForAllKeysIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) { r.Mode, r.Key = "stream", "t:{{.Name}}" })
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	var b strings.Builder
	for i := 0; i < 100; i++ {
		b.WriteString(namedLine(fmt.Sprintf("k%d", i%20), i))
	}
	if _, err := io.WriteString(pw, b.String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return stats.Written.Load() == 100 })
	srv.Do("CONFIG", "SET", "maxmemory-policy", "noeviction")
	srv.Do("CONFIG", "SET", "maxmemory", "1")
	b.Reset()
	for i := 100; i < 200; i++ {
		b.WriteString(namedLine(fmt.Sprintf("k%d", i%20), i))
	}
	if _, err := io.WriteString(pw, b.String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "OOM") })
	srv.Do("CONFIG", "SET", "maxmemory", "0")
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := stats.Written.Load(); n != 200 {
		t.Fatalf("written %d", n)
	}
	out := logs.String()
	if strings.Count(out, "OOM") != 1 || len(logLines(logs, "W! ")) != 1 || len(logLines(logs, "E! ")) != 0 || !strings.Contains(out, "is back after") {
		t.Fatalf("want one W! line and a recovery line:\n%s", out)
	}
}

// TestBuiltInRefusalNamesKeyAndTypeIntegration: built in, a command Redis refuses
// fails the write (Telegraf keeps the batch) with the key and what it
// holds; once the key is fixed the batch is written.
func TestBuiltInRefusalNamesKeyAndTypeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("HSET", "s:cpu", "a", "hash")
	r := startBuiltIn(t, srv.Addr, nil, func(r *Redis) { r.Mode, r.Key = "stream", "s:{{.Name}}" })
	ms := parseLines(t, typedLines)
	err := r.Write(ms)
	want := `writing to Redis at ` + srv.Addr + `: WRONGTYPE XADD to key "s:cpu" (it holds a hash, not a stream): ` +
		`Operation against a key holding the wrong kind of value`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	srv.Do("DEL", "s:cpu")
	waitFor(t, func() bool { return r.Write(ms) == nil })
	if n := mustInt(t)(srv.Conn().Do("XLEN", "s:cpu")); n != 3 {
		t.Fatalf("s:cpu has %d entries", n)
	}
}

// Hostile: a writer that may not ask TYPE (the least ACL of stream mode
// has no +type). The line still names the key, and says what was wanted
// and why what it holds is not known.
func TestWrongTypeWithoutTypePermissionIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("RPUSH", "t:bad", "a list")
	srv.Do("ACL", "SETUSER", "writer", "reset", "on", ">pw", "+client|setname", "+xadd", "~t:*")
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Key = "stream", "t:{{.Name}}"
		r.Username, r.Password = config.NewSecret([]byte("writer")), config.NewSecret([]byte("pw"))
	})
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	if _, err := io.WriteString(pw, namedLine("bad", 0)+namedLine("good", 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return stats.Written.Load() == 1 && len(logLines(logs, "E! ")) == 1 })
	want := `refused XADD to key "t:bad" (not a stream; TYPE did not tell what it holds: NOPERM`
	if !strings.Contains(logs.String(), want) {
		t.Fatalf("want %q:\n%s", want, logs)
	}
	srv.Do("DEL", "t:bad")
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	inOrder(t, srv, "t:bad", []int{0}, logs)
}

// The same in a Redis Cluster, where commands go to each slot's node: the
// held key is on one node, TYPE is asked of that node, the keys on every
// node go on, and after the fix the key's metrics arrive in order.
func TestWrongTypeKeyInAClusterIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	c := redistest.StartCluster(t, 3, 0)
	clusterDo(t, c, "HSET", "t:bad", "a", "hash")
	logs := &syncBuffer{}
	r := clusterPlugin(t, c, logs, func(r *Redis) { r.Mode, r.Key = "stream", "t:{{.Name}}" })
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	seqs := map[string][]int{}
	var b strings.Builder
	for i := 0; i < 600; i++ {
		name := fmt.Sprintf("k%d", i%12) // on every node
		if i%20 == 9 {
			name = "bad"
		}
		seqs[name] = append(seqs[name], i)
		b.WriteString(namedLine(name, i))
	}
	go func() {
		if _, err := io.WriteString(pw, b.String()); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, func() bool { return stats.Written.Load() >= 570 })
	if n := stats.Written.Load(); n != 570 {
		t.Fatalf("written %d", n)
	}
	errs := logLines(logs, "E! ")
	if len(errs) != 1 || !strings.Contains(errs[0], `refused XADD to key "t:bad" (it holds a hash, not a stream): WRONGTYPE`) {
		t.Fatalf("want one line naming the key and its type:\n%s", logs)
	}
	clusterDo(t, c, "DEL", "t:bad")
	pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("not written after the key was fixed:\n%s", logs)
	}
	for name, want := range seqs {
		entries, err := redis.Values(clusterDo(t, c, "XRANGE", "t:"+name, "-", "+"), nil)
		if err != nil || len(entries) != len(want) {
			t.Fatalf("t:%s: %d entries (%v), want %d", name, len(entries), err, len(want))
		}
		for i, e := range entries {
			kv := mustStringMap(t)(e.([]interface{})[1], nil)
			if kv["seq"] != strconv.Itoa(want[i]) {
				t.Fatalf("t:%s entry %d is seq %s, want %d", name, i, kv["seq"], want[i])
			}
		}
	}
}
