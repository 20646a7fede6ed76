package main

// subscriber counts what redis-output publishes, for the publish rows.

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
)

// subscriber counts the messages published on a channel during a run.
type subscriber struct {
	conn  redis.PubSubConn
	count atomic.Int64
	done  chan struct{}
}

func (b *bench) subscribe(channel string) (*subscriber, error) {
	c, err := redis.Dial("tcp", b.srv.addr)
	if err != nil {
		return nil, err
	}
	s := &subscriber{conn: redis.PubSubConn{Conn: c}, done: make(chan struct{})}
	if err := s.conn.Subscribe(channel); err != nil {
		c.Close()
		return nil, err
	}
	if _, ok := s.conn.Receive().(redis.Subscription); !ok {
		c.Close()
		return nil, errors.New("the SUBSCRIBE was not confirmed")
	}
	go func() {
		defer close(s.done)
		for {
			switch v := s.conn.Receive().(type) {
			case redis.Message:
				s.count.Add(1)
			case error:
				_ = v
				return
			}
		}
	}()
	return s, nil
}

// wait waits until n messages arrived (those published before exit are on
// their way), then makes sure no more come.
func (s *subscriber) wait(n int64) error {
	deadline := time.Now().Add(30 * time.Second)
	for s.count.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.count.Load(); got != n {
		return fmt.Errorf("the subscriber received %d messages, want %d", got, n)
	}
	return nil
}

func (s *subscriber) close() {
	s.conn.Close()
	<-s.done
}
