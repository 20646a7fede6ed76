package redis_consumer

import (
	"context"
	"errors"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// subscriber holds one Pub/Sub connection open: it SUBSCRIBEs and
// PSUBSCRIBEs, hands each message to onMessage, PINGs so that a dead
// connection is noticed within `timeout`, and reconnects with backoff.
type subscriber struct {
	p                  *RedisConsumer
	channels, patterns []string
	onMessage          func(redis.Message) error
	onSubscribed       func() // after each (re)subscription; may be nil
	outage             *redisconn.Outage
}

func (p *RedisConsumer) newSubscriber(
	channels, patterns []string, onMessage func(redis.Message) error, onSubscribed func(), outage *redisconn.Outage,
) *subscriber {
	return &subscriber{p: p, channels: channels, patterns: patterns, onMessage: onMessage, onSubscribed: onSubscribed, outage: outage}
}

// handlerError is onMessage's failure: it ends the run, unlike a lost
// connection.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }

// run subscribes until ctx is done. With once, a connection failure is
// returned instead of retried.
func (s *subscriber) run(ctx context.Context, once bool) error {
	backoff := redisconn.NewBackoff()
	subscribed := func() {
		s.outage.Succeeded()
		backoff.Reset()
		s.p.Log.Debugf("subscribed to channels %q and patterns %q at %s", s.channels, s.patterns, s.p.Endpoint())
		if s.onSubscribed != nil {
			s.onSubscribed()
		}
	}
	for ctx.Err() == nil {
		err := s.session(ctx, subscribed)
		var he *handlerError
		if errors.As(err, &he) {
			return he.err
		}
		select {
		case <-ctx.Done():
			// Stopped: a connection lost as it stops, or at the same
			// moment, is no failure of the run (the outage is logged
			// while it runs, not at its end).
			return nil
		default:
		}
		if once {
			return err
		}
		s.outage.Failed(err, "messages published meanwhile are lost")
		select {
		case <-ctx.Done():
		case <-time.After(backoff.Next()):
		}
	}
	return nil
}

// session is one connection, from dialing to its loss or to ctx's end.
func (s *subscriber) session(ctx context.Context, subscribed func()) error {
	conn, err := s.p.Dial(clientName)
	if err != nil {
		return err
	}
	psc := redis.PubSubConn{Conn: conn}
	defer psc.Close()
	if len(s.channels) > 0 {
		if err := psc.Subscribe(redis.Args{}.AddFlat(s.channels)...); err != nil {
			return err
		}
	}
	if len(s.patterns) > 0 {
		if err := psc.PSubscribe(redis.Args{}.AddFlat(s.patterns)...); err != nil {
			return err
		}
	}

	// A reply, at the latest the PONG of a PING sent every timeout/2, must
	// come within timeout (the read timeout redisconn dials with);
	// otherwise the connection is dead.
	received := make(chan error, 1)
	go func() { received <- s.receive(psc, subscribed) }()
	ping := time.NewTicker(max(time.Duration(s.p.Timeout)/2, time.Millisecond))
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			// Closing ends the receive; a message in hand is finished first.
			psc.Close()
			if err := <-received; errors.As(err, new(*handlerError)) {
				return err
			}
			return nil
		case err := <-received:
			return err
		case <-ping.C:
			if err := psc.Ping(""); err != nil {
				psc.Close()
				<-received
				return err
			}
		}
	}
}

// receive reads until the connection fails or onMessage does.
func (s *subscriber) receive(psc redis.PubSubConn, subscribed func()) error {
	want, confirmed := len(s.channels)+len(s.patterns), 0
	for {
		switch v := psc.Receive().(type) {
		case redis.Message:
			if err := s.onMessage(v); err != nil {
				return &handlerError{err}
			}
		case redis.Subscription:
			if v.Kind == "subscribe" || v.Kind == "psubscribe" {
				if confirmed++; confirmed == want {
					subscribed()
				}
			}
		case redis.Pong:
		case error:
			return v
		}
	}
}

// runSubscribe is subscribe mode: each message is parsed with data_format
// and written at once, tagged with its channel.
func (p *RedisConsumer) runSubscribe(ctx context.Context, out *output, once bool, outage *redisconn.Outage) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var buf []byte
	written := false
	handle := func(m redis.Message) error {
		if once && written {
			return nil // one more may come before the connection closes
		}
		ms, err := p.parser.Parse(m.Data, time.Now())
		if err == nil {
			for _, mm := range ms {
				if p.ChannelTag != "" {
					mm.AddTag(p.ChannelTag, m.Channel)
				}
			}
			buf, err = out.serialize(buf[:0], ms)
		}
		if err != nil {
			p.Log.Errorf("channel %q: message skipped: %v: %q", m.Channel, err, logger.Head(m.Data))
			return nil
		}
		if err := out.write(buf); err != nil {
			return err
		}
		if once {
			written = true
			cancel()
		}
		return nil
	}
	return p.newSubscriber(p.Channels, p.Patterns, handle, nil, outage).run(ctx, once)
}
