package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/outputs"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// The plugin is also a telegraf.Output: `make telegraf` compiles it into
// bin/telegraf, where [[outputs.redis]] runs it in-process. Telegraf then
// holds the metrics in its output buffer until Write returns nil, retries a
// failed batch at the next flush, and only then lets [[inputs.kafka_consumer]]
// commit the offsets: at least once from Kafka to Redis with no backlog or
// spool of ours. The execd program (Run) shares everything but that loop.
func init() {
	outputs.Add("redis", func() telegraf.Output { return NewBuiltIn() })
}

// NewBuiltIn returns the plugin as Telegraf builds it.
func NewBuiltIn() *Redis {
	r := New()
	r.builtIn = true
	return r
}

// refuseExecdOnly refuses, built in, the options only the execd program
// reads: Telegraf's buffer does their job there.
func (r *Redis) refuseExecdOnly() error {
	def := New()
	buffer := "built in, Telegraf's output buffer holds the metrics until Redis has them (metric_buffer_limit; buffer_strategy = \"disk\" keeps them on disk)"
	switch {
	case r.SpoolDir != "" || r.SpoolMaxSize != def.SpoolMaxSize:
		return fmt.Errorf("option spool_dir: only read by the execd program; %s", buffer)
	case r.MaxUndeliveredMetrics != def.MaxUndeliveredMetrics:
		return fmt.Errorf("option max_undelivered_metrics: only read by the execd program; %s", buffer)
	case r.MaxLineSize != def.MaxLineSize:
		return errors.New("option max_line_size: only read by the execd program, which reads lines from stdin")
	case r.InfluxTimestampPrecision != def.InfluxTimestampPrecision:
		return errors.New("option influx_timestamp_precision: only read by the execd program, which reads line protocol from stdin")
	}
	return nil
}

// Connect dials Redis once (AUTH, SELECT, CLIENT SETNAME), so that
// Telegraf's startup_error_behavior can act on the outcome. Redis not
// reachable yet (or loading its data) is a retryable startup error: with
// startup_error_behavior = "retry", Telegraf keeps the metrics and calls
// Connect again at each flush; with "ignore" it runs without this output;
// with "error", the default, it stops. A refusal an operator must act on
// (a wrong password, a missing permission, a database the server does not
// have, a certificate refused) is not retryable: Telegraf stops with the
// reason whatever the behavior. Connect may be called again after a
// failure, and leaves nothing open then.
func (r *Redis) Connect() error {
	if r.client != nil {
		r.client.Close()
	}
	if r.starts == nil {
		r.starts = &redisconn.Starts{Log: r.Log, Endpoint: r.Endpoint()}
	}
	r.client = redisconn.NewClient(&r.Config, clientName)
	r.client.BindKey = r.Key // in a Redis Cluster, the quote's node
	_, r.backoff = r.policy.NewBackoffs()
	r.writeMode = r.newMode()
	r.batch = r.writeMode.NewBatch()
	r.retryAt, r.away = time.Time{}, false
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.Timeout))
	defer cancel()
	if _, err := r.client.ConnContext(ctx); err != nil {
		r.client.Close()
		return r.starts.Failed(err)
	}
	r.starts.Succeeded()
	return nil
}

// clientName names the output's connections in CLIENT LIST.
const clientName = "telegraf-redis-output"

// Probe tells whether the output can write, without writing: Redis
// answers as the configured user in the configured database, and in
// quote mode the document's key holds a string or nothing. Telegraf's
// startup_error_behavior = "probe" calls it where Telegraf supports
// probing outputs (Telegraf 1.37 refuses "probe" for outputs).
func (r *Redis) Probe() error {
	client := redisconn.NewClient(&r.Config, clientName)
	client.BindKey = r.Key
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.Timeout))
	defer cancel()
	conn, err := client.ConnContext(ctx)
	if err != nil {
		return err
	}
	if r.Mode != "quote" {
		return nil // the keys come from each metric
	}
	typ, err := redis.String(conn.DoContext(ctx, "TYPE", r.Key))
	switch {
	case err != nil:
		return fmt.Errorf("asking the type of the quote's key %q at %s: %w", r.Key, r.Endpoint(), err)
	case typ != "string" && typ != "none":
		return fmt.Errorf("the quote's key %q at %s holds a %s, not a string: quote mode cannot write it", r.Key, r.Endpoint(), typ)
	}
	return nil
}

// Write writes metrics to Redis and returns only once Redis has them, so
// that Telegraf counts them as delivered only then. On an error Telegraf
// keeps the whole batch and writes it again at its next flush: commands
// of a per-metric mode that went through before the failure are sent
// again (at least once; the quote merge is idempotent). A command Redis
// refuses fails the write with its key (and, for WRONGTYPE, what the key
// holds). While Redis is away, each flush first probes it (a dial and a
// PING) and writes as soon as it answers; after a refusal, writes fail at
// once until the backoff has passed, since only a write tells whether it
// was fixed.
func (r *Redis) Write(metrics []telegraf.Metric) error {
	if len(metrics) == 0 {
		return nil
	}
	if r.away {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.Timeout))
		err := r.client.Probe(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("writing to Redis at %s: unavailable: %w", r.Endpoint(), err)
		}
		if r.policy.AfterProbe != nil {
			r.policy.AfterProbe()
		}
	} else if wait := time.Until(r.retryAt); wait > 0 {
		return fmt.Errorf("writing to Redis at %s: it refused the last write; next attempt in %s", r.Endpoint(), wait.Round(time.Millisecond))
	}
	r.batch.Reset()
	for _, tm := range metrics {
		metricline.FromTelegraf(tm, &r.metric)
		if err := r.batch.Add(&r.metric); err != nil {
			// It can never be written (no price, a time before 1970, an
			// empty key): dropped with a word, not retried forever.
			r.Log.Errorf("metric %s at %s not written: %v", tm.Name(), tm.Time().UTC().Format(time.RFC3339Nano), err)
		}
	}
	if r.batch.Metrics() == 0 {
		return nil // nothing to write (no price in the metrics, say): no dial
	}
	res, err := r.batch.Write(context.Background(), &writer.Target{Client: r.client, Config: &r.Config})
	if err != nil {
		r.away = redisconn.Away(err)
		r.retryAt = time.Time{}
		if !r.away {
			r.retryAt = time.Now().Add(r.backoff.Next())
		}
		return fmt.Errorf("writing to Redis at %s: %w", r.Endpoint(), err)
	}
	for _, w := range res.Warnings { // the quote's refusals, aged coins, repairs
		r.Log.Warn(w)
	}
	for _, i := range res.Infos {
		r.Log.Info(i)
	}
	r.backoff.Reset()
	r.retryAt, r.away = time.Time{}, false
	return nil
}

// Close closes the connection.
func (r *Redis) Close() error {
	if r.client != nil {
		r.client.Close()
	}
	return nil
}

var (
	_ telegraf.Output      = (*Redis)(nil)
	_ telegraf.ProbePlugin = (*Redis)(nil)
)
