package redis

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/runloop"
)

// The execd program: redis-output runs the plugin's loop (package
// runloop) on its stdin.

// Stats count what a run did; see runloop.Stats.
type Stats = runloop.Stats

// The errors of Run; see runloop.
var (
	ErrUnwritten = runloop.ErrUnwritten
	ErrInput     = runloop.ErrInput
)

// Run reads in until it ends or ctx is cancelled (SIGTERM), writing to
// Redis as it goes; see runloop.Run.
func (r *Redis) Run(ctx context.Context, in io.Reader, stats *Stats) error {
	r.writeMode = r.newMode()
	return runloop.Run(ctx, in, r.runConfig(), stats)
}

// DryRun reads all of in and prints the Redis commands it would send; see
// runloop.DryRun.
func (r *Redis) DryRun(in io.Reader, out io.Writer, stats *Stats) error {
	r.writeMode = r.newMode()
	return runloop.DryRun(in, out, r.runConfig(), stats)
}

// Summary is the exit line of the last run, with the mode's own part.
func (r *Redis) Summary(s *Stats) string { return s.Summary(r.writeMode) }

// runConfig is what the run loop needs of the plugin.
func (r *Redis) runConfig() *runloop.Config {
	decoders := 1
	if r.decodesInParallel() {
		decoders = runtime.GOMAXPROCS(0)
	}
	cfg := &runloop.Config{
		Log:        r.Log,
		NewDecoder: func() (metricline.Decoder, error) { return r.newDecoder() },
		Mode:       r.writeMode,
		Redis:      &r.Config,
		BindKey:    r.Key,
		Limits: runloop.Limits{
			BatchSize:      r.MetricBatchSize,
			MaxUndelivered: r.MaxUndeliveredMetrics,
			MaxLineSize:    int(r.MaxLineSize),
			FlushInterval:  time.Duration(r.FlushInterval),
			Grace:          time.Duration(r.Timeout),
			Decoders:       decoders,
			// Only quote mode trades half a millisecond of latency for
			// fewer wake-ups: the per-metric modes write each metric as
			// it comes.
			Gather: decoders > 1 && r.Mode == "quote",
		},
		Retry: r.policy,
	}
	if r.SpoolDir != "" {
		cfg.Spool = runloop.SpoolConfig{Dir: r.SpoolDir, MaxSize: int64(r.SpoolMaxSize), Destination: r.destination()}
	}
	return cfg
}

// decodesInParallel tells whether lines are decoded on every core: in the
// modes where the plugin, not Redis, is the bound. Quote mode is all
// decoding (Redis sees one EVALSHA per few thousand lines); publish, list
// and string send one short value per metric, and Redis spends less on it
// than the plugin decoding and serializing it. hash and stream write many
// pairs per metric, Redis is the bound there, and a second decoder only
// competes with it for the other core (see BENCHMARKS.md).
//
// Telegraf's serializers are used one at a time, as Telegraf uses one: some
// keep state between metrics (csv's header, written once).
func (r *Redis) decodesInParallel() bool {
	if runtime.GOMAXPROCS(0) < 2 || (r.serializes() && r.telegrafFormat) {
		return false
	}
	switch r.Mode {
	case "quote", "publish", "list", "string":
		return true
	}
	return false
}

// destination names where the spool's data goes and how its bytes are
// read: a spool is replayed only by a process with the same one. The
// password is no part of it.
func (r *Redis) destination() string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s %s\n", k, v) }
	line("redis", r.Endpoint())
	line("mode", r.Mode)
	line("key", r.Key)
	if r.Mode == "quote" {
		line("state_key", r.StateKey)
		line("quote", r.Quote)
	}
	line("data_format", r.DataFormat)
	switch r.DataFormat {
	case "json":
		line("json_timestamp_units", time.Duration(r.JSONTimestampUnits).String())
		line("json_timestamp_format", r.JSONTimestampFormat)
	case "influx":
		line("influx_timestamp_precision", time.Duration(r.InfluxTimestampPrecision).String())
	}
	return b.String()
}
