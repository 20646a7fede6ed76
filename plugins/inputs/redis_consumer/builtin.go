package redis_consumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// The plugin is also a telegraf.ServiceInput: `make telegraf` compiles it
// into bin/telegraf, where [[inputs.redis_consumer]] runs in-process. The
// gather modes (quote, keys) read Redis at each Gather, on Telegraf's
// interval; the service modes (subscribe, stream) read from Start to Stop,
// and stream mode acknowledges an entry only once Telegraf has delivered
// its metrics to every output. The execd program (Run) shares everything
// but those loops.
func init() {
	inputs.Add("redis_consumer", func() telegraf.Input { return NewBuiltIn() })
}

// NewBuiltIn returns the plugin as Telegraf builds it.
func NewBuiltIn() *RedisConsumer {
	p := New()
	p.builtIn = true
	return p
}

// Start starts the service modes, and quote mode's subscription.
func (p *RedisConsumer) Start(acc telegraf.Accumulator) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.outage = &redisconn.Outage{Log: p.Log, Endpoint: p.Endpoint(), Action: "read"}
	p.client = redisconn.NewClient(&p.Config, clientName)
	p.client.BindKey = p.Key // in a Redis Cluster: the node of the document or stream

	switch p.Mode {
	case "quote":
		q := newQuote(p, nil)
		p.gather = q.gather
		if p.Subscribe {
			// Pub/Sub drops what is published while we are not
			// connected: each (re)subscription is followed by a GET, on
			// a connection of its own.
			getter := redisconn.NewClient(&p.Config, clientName)
			getter.BindKey = p.Key
			get := func() {
				var ms []telegraf.Metric
				err := getter.Run(func(c redis.Conn) (err error) { ms, err = q.gather(c); return err })
				if err != nil {
					acc.AddError(err)
				}
				addAll(acc, ms)
			}
			onMessage := func(m redis.Message) {
				addAll(acc, q.metrics(m.Data, "channel "+strconv.Quote(m.Channel)))
			}
			p.goRun(func() {
				defer getter.Close()
				if err := p.newSubscriber([]string{p.Channel}, nil, infallible(onMessage), get, p.outage).run(ctx, false); err != nil {
					acc.AddError(err)
				}
			})
		}
	case "keys":
		p.gather = newKeys(p).gather
	case "subscribe":
		onMessage := func(m redis.Message) {
			ms, err := p.parser.Parse(m.Data, time.Now())
			if err != nil {
				p.Log.Errorf("channel %q: message skipped: %v: %q", m.Channel, err, logger.Head(m.Data))
				return
			}
			for _, mm := range ms {
				if p.ChannelTag != "" {
					mm.AddTag(p.ChannelTag, m.Channel)
				}
			}
			addAll(acc, ms)
		}
		p.goRun(func() {
			if err := p.newSubscriber(p.Channels, p.Patterns, infallible(onMessage), nil, p.outage).run(ctx, false); err != nil {
				acc.AddError(err)
			}
		})
	case "stream":
		s := newStreamReader(p, nil, p.outage)
		s.track = newTracker(ctx, acc, p.MaxUndeliveredMessages)
		s.pace = newPace(p.MaxUndeliveredMessages, p.BatchSize, p.Log, p.Key)
		p.goRun(s.track.watch)
		p.goRun(func() {
			if err := s.run(ctx, false); err != nil {
				acc.AddError(err)
			}
		})
	}
	return nil
}

func (p *RedisConsumer) goRun(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

func addAll(acc telegraf.Accumulator, ms []telegraf.Metric) {
	for _, m := range ms {
		acc.AddMetric(m)
	}
}

// infallible is a message handler for a subscriber that never ends it:
// built in, what a message cannot give is logged or dropped, never fatal.
func infallible(f func(redis.Message)) func(redis.Message) error {
	return func(m redis.Message) error {
		f(m)
		return nil
	}
}

// Gather reads the quote, or the keys, once. A Redis failure is returned,
// and Telegraf logs it; the next Gather tries again.
func (p *RedisConsumer) Gather(acc telegraf.Accumulator) error {
	if p.client == nil {
		return errors.New("called Gather before Start")
	}
	if p.gather == nil {
		return nil // a service mode: metrics come as they are read
	}
	var ms []telegraf.Metric
	err := p.client.Run(func(c redis.Conn) (err error) { ms, err = p.gather(c); return err })
	if err != nil {
		return fmt.Errorf("reading from Redis at %s: %w", p.Endpoint(), err)
	}
	addAll(acc, ms)
	return nil
}

// Stop ends the service modes: a stream batch in hand is handed over, and
// entries already delivered are acknowledged first; entries Telegraf has
// not yet delivered stay pending and are read again at the next start.
func (p *RedisConsumer) Stop() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	if p.client != nil {
		p.client.Close()
	}
}

var _ telegraf.ServiceInput = (*RedisConsumer)(nil)
