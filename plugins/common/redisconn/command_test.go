package redisconn

import (
	"context"
	"strings"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

func TestAppendCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"PING", nil, "*1\r\n$4\r\nPING\r\n"},
		{"XACK", []string{"s", "g", "1-0"}, "*4\r\n$4\r\nXACK\r\n$1\r\ns\r\n$1\r\ng\r\n$3\r\n1-0\r\n"},
		// Empty arguments, and arguments holding CRLF or any byte: a bulk
		// string is its length, not a delimiter.
		{"SET", []string{"", "a\r\nb\x00"}, "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$5\r\na\r\nb\x00\r\n"},
	} {
		got := AppendCommand([]byte("x"), tc.name, tc.args...)
		if string(got) != "x"+tc.want {
			t.Errorf("%s %q: %q, want %q", tc.name, tc.args, got, tc.want)
		}
	}
	long := strings.Repeat("v", 100000)
	if got := AppendCommand(nil, "SET", "k", long); !strings.HasPrefix(string(got), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n") {
		t.Errorf("long argument: %q", got[:40])
	}
}

// Commands written with AppendCommand are what a real server reads: two
// in one write, both replies back in order.
func TestAppendCommandServerIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	conn, err := dial(t, &Config{Address: srv.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	w := AppendCommand(nil, "SET", "k\r\n", "a\r\nb")
	w = AppendCommand(w, "GET", "k\r\n")
	if err := conn.WriteRaw(w); err != nil {
		t.Fatal(err)
	}
	rr := conn.Replies()
	rr.Begin()
	if h, err := rr.Header(ctx); err != nil || h.Type != '+' || string(h.Text) != "OK" {
		t.Fatalf("SET: %q %q %v", h.Type, h.Text, err)
	}
	rr.Begin()
	if got, err := rr.Bulk(ctx); err != nil || string(got) != "a\r\nb" {
		t.Fatalf("GET: %q %v", got, err)
	}
}
