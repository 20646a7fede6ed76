package redis_consumer

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
)

// silentServer accepts connections and never answers, as a server that
// stalls does: a dial to it fails at the read timeout. It returns the
// address and a channel that gets each connection as it is accepted.
func silentServer(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	})
	return ln.Addr().String(), accepted
}

// runSubscriber runs a subscriber (once, as -once does) against addr and
// returns the channel its result comes on.
func runSubscriber(ctx context.Context, t *testing.T, addr string) <-chan error {
	t.Helper()
	p := New()
	p.Mode, p.Channels, p.Address = "subscribe", []string{"c"}, addr
	p.Timeout = config.Duration(300 * time.Millisecond)
	p.Log = logger.NewWriter(&syncbuf.Buffer{}, "inputs.redis_consumer")
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	outage := &redisconn.Outage{Log: p.Log, Endpoint: p.Endpoint(), Action: "read"}
	s := p.newSubscriber(p.Channels, nil, func(redis.Message) error { return nil }, nil, outage)
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, true) }()
	return done
}

func waitResult(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the subscriber did not end")
		return nil
	}
}

// A connection that fails while the subscriber is being stopped is no
// failure of the run: it ends with nil, as at any stop. The failure comes
// at the worst moment: the dial is waiting for the server's reply when
// the stop comes, and fails after it.
func TestSubscriberStoppedDuringAFailingDial(t *testing.T) {
	addr, accepted := silentServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runSubscriber(ctx, t, addr)
	select {
	case <-accepted: // the dial waits for the reply that never comes
	case <-time.After(30 * time.Second):
		t.Fatal("the subscriber never connected")
	}
	cancel()
	if err := waitResult(t, done); err != nil {
		t.Fatalf("stopped while its connection failed: %v, want nil", err)
	}
}

// Not stopped, the same failure is the run's error with once.
func TestSubscriberFailingDialOnce(t *testing.T) {
	addr, _ := silentServer(t)
	err := waitResult(t, runSubscriber(context.Background(), t, addr))
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("a dial to a server that never answers: %v, want a timeout", err)
	}
}
