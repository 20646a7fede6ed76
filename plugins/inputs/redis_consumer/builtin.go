package redis_consumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// Start connects to Redis once (AUTH, SELECT, CLIENT SETNAME), so that
// Telegraf's startup_error_behavior can act on the outcome, and then
// starts the service modes and quote mode's subscription. Redis not
// reachable yet (or loading its data) is a retryable startup error: with
// startup_error_behavior = "retry" Telegraf calls Start again at each
// interval until it succeeds; with "ignore" or "probe" it runs without
// this input; with "error", the default, it stops. A refusal an operator
// must act on (a wrong password, a missing permission, a database the
// server does not have, a certificate refused) is not retryable: Telegraf
// stops with the reason unless the behavior is "ignore" or "probe". A
// failed Start leaves nothing open or running, so it may be called again.
func (p *RedisConsumer) Start(acc telegraf.Accumulator) error {
	if p.starts == nil {
		p.starts = &redisconn.Starts{Log: p.Log, Endpoint: p.Endpoint()}
	}
	client := redisconn.NewClient(&p.Config, clientName)
	client.BindKey = p.Key // in a Redis Cluster: the node of the document or stream
	dialCtx, dialed := context.WithTimeout(context.Background(), time.Duration(p.Timeout))
	_, err := client.ConnContext(dialCtx)
	dialed()
	if err != nil {
		client.Close()
		return p.starts.Failed(err)
	}
	p.starts.Succeeded()
	if p.Mode == "subscribe" || p.Mode == "stream" {
		client.Close() // Gather reads nothing there: the loops have their own
	}
	p.client = client

	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.outage = &redisconn.Outage{Log: p.Log, Endpoint: p.Endpoint(), Action: "read"}

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

// Probe tells whether the mode can read, without reading anything that
// would be lost to it: on a connection of its own, quote mode GETs the
// document (a key of another type fails), keys mode SCANs one page,
// subscribe mode (and quote mode with subscribe) subscribes to its
// channels and patterns and closes the connection, and stream mode reads
// its own pending entries after the highest ID but one (none: nothing is
// delivered or claimed) and acknowledges that ID (nothing). Each fails
// for a missing permission as the mode's own reads would. Telegraf calls
// it after Start with startup_error_behavior = "probe", and runs without
// this input when it fails.
func (p *RedisConsumer) Probe() error {
	client := redisconn.NewClient(&p.Config, clientName)
	client.BindKey = p.Key
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(p.Timeout))
	defer cancel()
	conn, err := client.ConnContext(ctx)
	if err != nil {
		return err
	}
	where := func(what string, err error) error {
		return fmt.Errorf("probing %s at %s: %w", what, p.Endpoint(), err)
	}
	switch p.Mode {
	case "quote":
		if _, err := conn.DoContext(ctx, "GET", p.Key); err != nil {
			return where(fmt.Sprintf("GET %q", p.Key), redisconn.WrongType(conn, err, p.Key, "string"))
		}
		if p.Subscribe {
			return probeSubscribe(ctx, conn, []string{p.Channel}, nil, where)
		}
	case "keys":
		if _, err := conn.DoContext(ctx, "SCAN", "0", "MATCH", p.Key, "COUNT", 1); err != nil {
			return where(fmt.Sprintf("SCAN MATCH %q", p.Key), err)
		}
	case "subscribe":
		return probeSubscribe(ctx, conn, p.Channels, p.Patterns, where)
	case "stream":
		// A group not there yet is created by the stream loop (Start
		// has begun it): its absence is no failure.
		_, err := conn.DoContext(ctx, "XREADGROUP", "GROUP", p.Group, p.Consumer, "COUNT", 1, "STREAMS", p.Key, maxEntryID)
		if err != nil && !strings.HasPrefix(err.Error(), "NOGROUP") {
			return where(fmt.Sprintf("XREADGROUP on stream %q", p.Key), redisconn.WrongType(conn, err, p.Key, "stream"))
		}
		_, err = conn.DoContext(ctx, "XACK", p.Key, p.Group, maxEntryID)
		if err != nil && !strings.HasPrefix(err.Error(), "NOGROUP") {
			return where(fmt.Sprintf("XACK on stream %q", p.Key), redisconn.WrongType(conn, err, p.Key, "stream"))
		}
	}
	return nil
}

// maxEntryID is the highest stream entry ID but one: no entry comes
// after it. (Redis reads the highest, 2^64-1 twice, as ">": new entries,
// which XREADGROUP would deliver.)
const maxEntryID = "18446744073709551615-18446744073709551614"

// probeSubscribe subscribes conn to channels and patterns and waits for
// Redis to confirm each (or refuse one). The caller closes conn, which
// ends the subscriptions.
func probeSubscribe(ctx context.Context, conn redis.Conn, channels, patterns []string, where func(string, error) error) error {
	psc := redis.PubSubConn{Conn: conn}
	if len(channels) > 0 {
		if err := psc.Subscribe(redis.Args{}.AddFlat(channels)...); err != nil {
			return where("SUBSCRIBE", err)
		}
	}
	if len(patterns) > 0 {
		if err := psc.PSubscribe(redis.Args{}.AddFlat(patterns)...); err != nil {
			return where("PSUBSCRIBE", err)
		}
	}
	for n := 0; n < len(channels)+len(patterns); n++ {
		switch r := psc.ReceiveContext(ctx).(type) {
		case error:
			return where(fmt.Sprintf("subscribing to channels %q and patterns %q", channels, patterns), r)
		case redis.Subscription:
		default:
			return where("SUBSCRIBE", fmt.Errorf("unexpected reply %v", r))
		}
	}
	return nil
}

var (
	_ telegraf.ServiceInput = (*RedisConsumer)(nil)
	_ telegraf.ProbePlugin  = (*RedisConsumer)(nil)
)
