package redis_consumer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// RunOptions come from the command line.
type RunOptions struct {
	// PollInterval gathers on this interval as well as on each stdin line
	// (0: only on stdin lines). Quote and keys modes only.
	PollInterval time.Duration
	// Signals gathers on each value too: main passes SIGHUP, SIGUSR1 and
	// SIGUSR2, the other values of [[inputs.execd]]'s signal option.
	Signals <-chan os.Signal
	// Once gathers once (quote, keys), reads one batch (stream) or one
	// message (subscribe), writes it and returns; a failure is returned
	// instead of retried. Stdin is not read.
	Once bool
}

// Run runs the mode until ctx is done (SIGTERM, SIGINT) or in ends
// (Telegraf closes our stdin when it stops). What is in hand then is
// finished and written first; at the end of stdin, so is a gather asked
// for by its last line. The error is nil after a normal stop; it is a
// *StdoutError when stdout could not be written, or with Once the failure
// of the one attempt.
func (p *RedisConsumer) Run(ctx context.Context, in io.Reader, stdout io.Writer, opts RunOptions) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	out := newOutput(stdout, p.Log)
	triggers := make(chan struct{}, 1)
	ended := make(chan struct{})
	if !opts.Once {
		go watchStdin(in, triggers, ended)
	}
	// Both loops of quote mode with subscribe report into one outage, so
	// that Redis going away is one warning, not one per connection.
	outage := &redisconn.Outage{Log: p.Log, Endpoint: p.Endpoint(), Action: "read"}

	switch p.Mode {
	case "quote":
		q := newQuote(p, out)
		g := &gatherer{p: p, out: out, triggers: triggers, ended: ended, opts: opts, gather: q.gather, outage: outage}
		if !p.Subscribe || opts.Once {
			return g.run(ctx)
		}
		// Pub/Sub drops what is published while we are not connected, so
		// each (re)subscription is followed by a GET, backoff or not: the
		// subscription just showed that Redis is back.
		forced := make(chan struct{}, 1)
		g.forced = forced
		s := p.newSubscriber([]string{p.Channel}, nil, q.message, func() { trigger(forced) }, outage)
		var subErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			if subErr = s.run(ctx, false); subErr != nil {
				stop()
			}
		}()
		err := g.run(ctx)
		stop()
		<-done
		return errors.Join(err, subErr)
	case "keys":
		return (&gatherer{p: p, out: out, triggers: triggers, ended: ended, opts: opts, gather: newKeys(p).gather, outage: outage}).run(ctx)
	}

	// Service modes: stdin lines mean nothing, its end means stop.
	go func() {
		select {
		case <-ended:
			stop()
		case <-ctx.Done():
		}
	}()
	if p.Mode == "subscribe" {
		return p.runSubscribe(ctx, out, opts.Once, outage)
	}
	return newStreamReader(p, out, outage).run(ctx, opts.Once)
}

// watchStdin asks for a gather on each line and closes ended when stdin
// ends: that is how [[inputs.execd]] with signal = "STDIN" drives us.
func watchStdin(in io.Reader, triggers, ended chan<- struct{}) {
	defer close(ended)
	buf := make([]byte, 4096)
	for {
		n, err := in.Read(buf)
		if bytes.IndexByte(buf[:n], '\n') >= 0 {
			trigger(triggers)
		}
		if err != nil {
			return
		}
	}
}

// trigger asks for a gather; requests coming while one waits are merged.
func trigger(triggers chan<- struct{}) {
	select {
	case triggers <- struct{}{}:
	default:
	}
}

// gatherer runs the gather modes (quote, keys): one gather per trigger.
type gatherer struct {
	p        *RedisConsumer
	out      *output
	triggers <-chan struct{}
	forced   <-chan struct{} // a gather that does not wait for the backoff
	ended    <-chan struct{}
	opts     RunOptions
	gather   gatherFunc
	outage   *redisconn.Outage

	client  *redisconn.Client
	backoff *redisconn.Backoff
	retryAt time.Time
}

// run gathers on each trigger until ctx is done or stdin has ended.
func (g *gatherer) run(ctx context.Context) error {
	g.client = redisconn.NewClient(&g.p.Config, clientName)
	g.client.BindKey = g.p.Key // in a Redis Cluster: the node of the document
	defer g.client.Close()
	if g.opts.Once {
		ms, err := g.read()
		if err != nil {
			return err
		}
		return g.out.emit(ms, g.p.Log)
	}

	var tick <-chan time.Time
	if g.opts.PollInterval > 0 {
		t := time.NewTicker(g.opts.PollInterval)
		defer t.Stop()
		tick = t.C
	}
	g.backoff = redisconn.NewBackoff()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-g.ended:
			// The last line before the end still asked for a gather.
			select {
			case <-g.triggers:
				return g.once()
			default:
				return nil
			}
		case <-g.triggers:
		case <-tick:
		case <-g.opts.Signals:
		case <-g.forced:
			g.retryAt = time.Time{}
		}
		if ctx.Err() != nil {
			return nil // stopping wins over a gather asked for at the same time
		}
		if err := g.once(); err != nil {
			return err
		}
	}
}

func (g *gatherer) read() ([]telegraf.Metric, error) {
	var ms []telegraf.Metric
	err := g.client.Run(func(c redis.Conn) (err error) { ms, err = g.gather(c); return err })
	return ms, err
}

// once is one gather. After a failure, gathers are skipped until the
// backoff wait has passed, so that frequent triggers do not hammer a Redis
// that is down. Only a stdout failure is returned.
func (g *gatherer) once() error {
	if wait := time.Until(g.retryAt); wait > 0 {
		g.p.Log.Debugf("gather skipped: next attempt to reach Redis in %s", wait.Round(time.Millisecond))
		return nil
	}
	ms, err := g.read()
	if err != nil {
		g.outage.Failed(err, "no metrics until it is back")
		g.retryAt = time.Now().Add(g.backoff.Next())
		return nil
	}
	g.outage.Succeeded()
	g.backoff.Reset()
	g.retryAt = time.Time{}
	return g.out.emit(ms, g.p.Log)
}
