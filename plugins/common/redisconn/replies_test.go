package redisconn

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/faultproxy"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

func command(args ...string) []byte { return AppendCommand(nil, args[0], args[1:]...) }

// Every kind of RESP2 reply, an error among them, many to one read and
// one reply larger than the read buffer: each is skipped whole, the error
// comes back as a redis.Error, and the connection is still in step for
// redigo afterwards.
func TestRepliesSkipIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	conn, err := dial(t, &Config{Address: srv.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	big := strings.Repeat("x", 200<<10) // > the 64 KiB buffer
	var w []byte
	w = append(w, command("SET", "k", big)...)          // +OK
	w = append(w, command("GET", "k")...)               // $204800
	w = append(w, command("GET", "nokey")...)           // $-1
	w = append(w, command("INCR", "k")...)              // -ERR not an integer
	w = append(w, command("RPUSH", "l", "a", "b")...)   // :2
	w = append(w, command("LRANGE", "l", "0", "-1")...) // *2
	w = append(w, command("EVAL", "return {1,{2,'x'},redis.error_reply('E nested')}", "0")...)
	const many = 3000 // several reads of replies
	for i := 0; i < many; i++ {
		w = append(w, command("INCR", "n")...)
	}
	if err := conn.WriteRaw(w); err != nil {
		t.Fatal(err)
	}
	rr := conn.Replies()
	ctx := context.Background()
	for i, wantErr := range []string{"", "", "", "ERR value is not an integer or out of range", "", "", ""} {
		err := rr.Skip(ctx)
		var re redis.Error
		switch {
		case wantErr == "" && err != nil:
			t.Fatalf("reply %d: %v", i, err)
		case wantErr != "" && (!errors.As(err, &re) || string(re) != wantErr):
			t.Fatalf("reply %d: got %v, want the error reply %q", i, err, wantErr)
		}
	}
	for i := 0; i < many; i++ {
		if err := rr.Skip(ctx); err != nil {
			t.Fatalf("INCR %d: %v", i, err)
		}
	}
	if rr.Buffered() != 0 {
		t.Fatalf("%d bytes left after the last reply", rr.Buffered())
	}
	if n, err := redis.Int(conn.Do("GET", "n")); err != nil || n != many {
		t.Fatalf("redigo after the raw replies: %d, %v", n, err)
	}
	if got, err := redis.String(conn.Do("GET", "k")); err != nil || got != big {
		t.Fatalf("GET k after: %d bytes, %v", len(got), err)
	}
}

// Hostile: Redis stops answering in the middle of a pipeline. A context
// that ends interrupts the read at once (SIGTERM must not wait out the
// timeout), and a connection cut mid-reply is an error, never a reply.
func TestRepliesStalledAndCutIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	proxy := faultproxy.Start(t, srv.Addr)
	cfg := &Config{Address: proxy.Addr, Timeout: config.Duration(time.Minute)}
	conn, err := dial(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	proxy.Stall()
	if err := conn.WriteRaw(command("PING")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- conn.Replies().Skip(ctx) }()
	// Most often the read is already waiting when the cancellation comes;
	// either way it must end with the context's error.
	time.AfterFunc(50*time.Millisecond, cancel)
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled read: %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second): // far below the one-minute timeout
		t.Fatal("a cancelled read still waits")
	}
	proxy.Resume()

	// A reply cut short: the read ends in an error, not in a reply.
	conn2, err := dial(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	srv.Do("SET", "k", strings.Repeat("y", 4<<20))
	if err := conn2.WriteRaw(command("GET", "k")); err != nil {
		t.Fatal(err)
	}
	rr := conn2.Replies()
	if _, err := rr.Header(context.Background()); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	if _, err := rr.body(context.Background(), 4<<20); err == nil {
		t.Fatal("a reply cut by the connection's end was read as whole")
	}
}

// Hostile: a server that is not Redis (or out of step) answers what no
// RESP2 reply looks like: a protocol error, never a silent success.
func TestRepliesProtocolErrors(t *testing.T) {
	for _, bad := range []string{"?what\r\n", "$abc\r\n", "$3\r\nabcde\r\n", "\r\n", ":" + strings.Repeat("9", 30) + "\r\n"} {
		rr := &Replies{buf: append([]byte(bad), make([]byte, 64)...)}
		rr.w = len(bad)
		err := rr.Skip(context.Background())
		var pe ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%q: %v, want a protocol error", bad, err)
		}
	}
}

// The numbers of reply lines, and what is not one.
func TestParseLength(t *testing.T) {
	for text, want := range map[string]int64{"0": 0, "-1": -1, "7": 7, "1000": 1000, "999999999999999999": 999999999999999999} {
		if n, ok := parseLength([]byte(text)); !ok || n != want {
			t.Errorf("%q: %d %v", text, n, ok)
		}
	}
	for _, text := range []string{"", "-", "+1", "1a", " 1", "1 ", "1000000000000000000", "--1", "0x1", strings.Repeat("9", 19)} {
		if n, ok := parseLength([]byte(text)); ok {
			t.Errorf("%q read as %d", text, n)
		}
	}
}
