package redis_consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/faultproxy"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

func dialRaw(t *testing.T, addr string) *redisconn.Conn {
	t.Helper()
	cfg := &redisconn.Config{Address: addr, Timeout: config.Duration(5 * time.Second)}
	if err := cfg.Init(); err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Dial("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Our RESP reader gives what redigo gives for the same XREADGROUP, on
// entries built to break it: values with CR LF and every byte, empty
// names and values, fields far larger than its buffer (read across many
// refills), thousands of fields in one entry.
func TestRawRepliesLikeRedigoIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	huge := bytes.Repeat([]byte("0123456789\r\n"), 50000) // 600 KB
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	srv.Do("XADD", "s", "*", "a", "1")
	srv.Do("XADD", "s", "*", "", "", "crlf", "\r\n\r\n", "bin", binary)
	srv.Do("XADD", "s", "*", "huge", huge, "after", "x")
	many := redis.Args{"s", "*"}
	for i := 0; i < 3000; i++ {
		many = many.Add(fmt.Sprintf("f%d", i), i)
	}
	srv.Do("XADD", many...)
	for i := 0; i < 500; i++ {
		srv.Do("XADD", "s", "*", "n", i, "p", strings.Repeat("x", i))
	}
	srv.Do("XGROUP", "CREATE", "s", "ours", "0")
	srv.Do("XGROUP", "CREATE", "s", "redigo", "0")

	c := dialRaw(t, srv.Addr)
	rr := newRawReplies(c)
	rr.Replies = redisconn.NewReplies(c, 100) // start small: every read crosses a refill
	want, err := readGroupEntries(srv.Do("XREADGROUP", "GROUP", "redigo", "r", "COUNT", 10000, "STREAMS", "s", ">"))
	if err != nil {
		t.Fatal(err)
	}
	var got []entry
	var counted int64
	rr.counted = func(n int64) { counted = n }
	for len(got) < len(want) {
		// Two reads in one write, as the stream reader pipelines them:
		// reading the first reply reads into the second.
		w := redisconn.AppendCommand(nil, "XREADGROUP", "GROUP", "ours", "o", "COUNT", "7", "STREAMS", "s", ">")
		w = redisconn.AppendCommand(w, "XREADGROUP", "GROUP", "ours", "o", "COUNT", "7", "STREAMS", "s", ">")
		if err := c.WriteRaw(w); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			entries, err := rr.readGroup()
			if err != nil {
				t.Fatalf("after %d entries: %v", len(got), err)
			}
			if entries != nil && counted != int64(len(entries)) {
				t.Fatalf("counted %d entries, read %d", counted, len(entries))
			}
			for _, e := range entries { // copy: they point into the buffer
				cp := entry{id: e.id}
				for _, f := range e.fields {
					cp.fields = append(cp.fields, bytes.Clone(f))
				}
				got = append(got, cp)
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].id != want[i].id || len(got[i].fields) != len(want[i].fields) {
			t.Fatalf("entry %d: %s with %d fields, want %s with %d", i, got[i].id, len(got[i].fields), want[i].id, len(want[i].fields))
		}
		for j := range want[i].fields {
			if !bytes.Equal(got[i].fields[j], want[i].fields[j]) {
				t.Fatalf("entry %s field %d differs", want[i].id, j)
			}
		}
	}

	// A BLOCK that runs out is a nil reply, not an error.
	if err := c.WriteRaw(redisconn.AppendCommand(nil, "XREADGROUP", "GROUP", "ours", "o", "BLOCK", "10", "STREAMS", "s", ">")); err != nil {
		t.Fatal(err)
	}
	if entries, err := rr.readGroup(); err != nil || entries != nil {
		t.Fatalf("timed out read: %v %v", entries, err)
	}
}

// Hostile: error replies, and an XACK pipelined with a read that fails,
// leave the connection in step for the next command, through redigo too.
func TestRawRepliesErrorsKeepTheConnectionInStepIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "s", "1-0", "a", "1")
	c := dialRaw(t, srv.Addr)
	rr := newRawReplies(c)
	w := redisconn.AppendCommand(nil, "XACK", "s", "nogroup", "1-0")
	w = redisconn.AppendCommand(w, "XREADGROUP", "GROUP", "nogroup", "o", "STREAMS", "s", ">")
	if err := c.WriteRaw(w); err != nil {
		t.Fatal(err)
	}
	if err := rr.ack(); err != nil {
		t.Fatalf("XACK on a missing group: %v", err) // Redis answers 0
	}
	_, err := rr.readGroup()
	var re redis.Error
	if !errors.As(err, &re) || !strings.HasPrefix(string(re), "NOGROUP") {
		t.Fatalf("want NOGROUP, got %v", err)
	}
	if err := c.WriteRaw(redisconn.AppendCommand(nil, "XACK", "s")); err != nil {
		t.Fatal(err)
	}
	if err := rr.ack(); err == nil {
		t.Fatal("XACK with too few arguments: no error")
	}
	if got, err := redis.String(c.Do("PING")); err != nil || got != "PONG" {
		t.Fatalf("redigo after raw replies: %q %v", got, err)
	}
	srv.Do("XGROUP", "CREATE", "s", "g", "0")
	if err := c.WriteRaw(redisconn.AppendCommand(nil, "XREADGROUP", "GROUP", "g", "o", "STREAMS", "s", ">")); err != nil {
		t.Fatal(err)
	}
	if entries, err := rr.readGroup(); err != nil || len(entries) != 1 || entries[0].id != "1-0" || string(entries[0].fields[1]) != "1" {
		t.Fatalf("%v %v", entries, err)
	}
}

// A connection cut in the middle of a reply is an error that is not a
// Redis reply, so the client drops the connection.
func TestRawRepliesCutShortIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	proxy := faultproxy.Start(t, srv.Addr)
	// Far more than socket buffers hold: most of it is still on the way
	// when the connection is cut.
	srv.Do("XADD", "s", "*", "v", strings.Repeat("x", 32<<20))
	srv.Do("XGROUP", "CREATE", "s", "g", "0")
	c := dialRaw(t, proxy.Addr)
	rr := newRawReplies(c)
	if err := c.WriteRaw(redisconn.AppendCommand(nil, "XREADGROUP", "GROUP", "g", "o", "STREAMS", "s", ">")); err != nil {
		t.Fatal(err)
	}
	if err := rr.Fill(context.Background()); err != nil { // the reply has begun
		t.Fatal(err)
	}
	proxy.Cut()
	_, err := rr.readGroup()
	if err == nil {
		t.Fatal("no error from a reply cut short")
	}
	if re := redis.Error(""); errors.As(err, &re) {
		t.Fatalf("a cut connection reported as a Redis reply: %v", err)
	}
}

// The XACK that goes out with the next read never costs an entry: entries
// keep coming while the plugin reads batches, its connection is killed
// twice on the way (with an XACK unconfirmed), and it is stopped while
// reading. Every entry comes out (at least once), and nothing is left
// pending once Run returns.
func TestStreamPipelinedAckLosesNothingIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	const n = 3000
	add := func(from, to int) {
		c := srv.Conn()
		defer c.Close()
		for i := from; i < to; i++ {
			if err := c.Send("XADD", "metrics", "*", "payload", fmt.Sprintf("m v=%di %d", i, i)); err != nil {
				t.Error(err)
				return
			}
		}
		if _, err := c.Do(""); err != nil {
			t.Error(err)
		}
	}
	add(0, n/2)
	p, _ := streamPlugin(t, srv, func(p *RedisConsumer) { p.PayloadField, p.BatchSize = "payload", 100 })
	r := start(t, p, RunOptions{})
	waitFor(t, "a first batch", func() bool { return len(r.stdout.Lines()) >= 100 })
	srv.Do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
	add(n/2, n)
	waitFor(t, "half the entries", func() bool { return len(r.stdout.Lines()) >= n/2 })
	srv.Do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
	waitFor(t, "every entry", func() bool {
		seen := map[string]bool{}
		for _, l := range r.stdout.Lines() {
			seen[l] = true
		}
		return len(seen) == n
	})
	r.cancel()
	err := result(t, r.done)
	r.done <- err // for the cleanup of start
	if err != nil {
		t.Fatal(err)
	}
	if got := pending(t, srv); got != 0 {
		t.Fatalf("%d entries left pending", got)
	}
	seen := map[string]bool{}
	for _, l := range r.stdout.Lines() {
		seen[l] = true
	}
	for i := 0; i < n; i++ {
		if !seen[fmt.Sprintf("m v=%di %d", i, i)] {
			t.Fatalf("entry %d never came out", i)
		}
	}
}
