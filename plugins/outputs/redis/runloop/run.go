// Package runloop is the execd program's loop: it reads what Telegraf's
// [[outputs.execd]] writes to stdin and writes it to Redis with a write
// mode (package writer), until stdin ends or a stop signal comes.
//
// Telegraf counts a metric as delivered once it is on our stdin, so what we
// have read and not yet written is ours alone to keep: it is held in a
// bounded backlog, written in batches, retried while Redis is away, and
// when the backlog is full stdin is no longer read, which is the only way
// to push back on Telegraf (and, behind it, on Kafka). With a spool, what
// is read is on disk first, and a run replays what the last one left.
//
// By role: run.go wires a run and accounts for its end; reader.go reads
// stdin's lines for the decoders (decoders.go when there are several);
// backlog.go is what the reader and the flusher share; flusher.go writes;
// spool.go is the run's use of the spool.
package runloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/spool"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// Config is what a run needs of the plugin.
type Config struct {
	Log telegraf.Logger
	// NewDecoder returns a decoder of what [[outputs.execd]] writes; each
	// decoding goroutine has its own.
	NewDecoder func() (metricline.Decoder, error)
	// Mode makes the batches, and writes them.
	Mode writer.Mode
	// Redis is where the batches go; BindKey, in a Redis Cluster, the key
	// whose node the run's connection serves.
	Redis   *redisconn.Config
	BindKey string
	Limits  Limits
	Spool   SpoolConfig
	Retry   Retry
}

// Limits bound a run, as the plugin's options name them.
type Limits struct {
	BatchSize      int           // metric_batch_size: a write is due once this many are read
	MaxUndelivered int           // max_undelivered_metrics: past it, stdin is not read
	MaxLineSize    int           // max_line_size: a longer line is refused
	FlushInterval  time.Duration // flush_interval; 0: write whenever stdin has no more for now
	Grace          time.Duration // timeout: how long writes go on after a stop
	// Decoders is how many goroutines decode; 1 decodes as it reads.
	Decoders int
	// Gather pauses briefly after a short read of stdin, so that lines
	// Telegraf writes one by one are read together (see gatherReader).
	Gather bool
}

// SpoolConfig is the spool's: none when Dir is "".
type SpoolConfig struct {
	Dir     string
	MaxSize int64
	// Destination names where the data goes and how its bytes are read:
	// a spool is replayed only by a run with the same one.
	Destination string
}

// Stats count what a run did; they end up in the exit summary.
type Stats struct {
	Lines    atomic.Int64 // lines read
	Metrics  atomic.Int64 // metrics accepted
	Rejected atomic.Int64 // lines with at least one refused metric
	Updates  atomic.Int64 // writes that reached Redis
	Written  atomic.Int64 // metrics those writes carried (quote: whose price reached the document)
	// Settled counts the metrics taken out of a batch unwritten, for a
	// reason the mode counts in its own statistics (quote mode:
	// superseded, refused, without a price).
	Settled atomic.Int64
	// At a stop whose grace ran out: metrics certainly not in Redis, and
	// metrics sent without a reply (Redis stalled), which may be.
	NotWritten atomic.Int64
	Unknown    atomic.Int64
	// Unspooled counts, at the end of a run with a spool, the lines read
	// from stdin that are neither in Redis nor on disk: the spool had no
	// room for them, and the run stopped before Redis had them.
	Unspooled atomic.Int64
	// Paused is true while stdin is not read because the backlog is full
	// (tests wait on it rather than on time).
	Paused atomic.Bool
}

// Accounted is the metrics written, or settled for a reason the mode
// counts: once the input is all written, every metric read.
func (s *Stats) Accounted() int64 { return s.Written.Load() + s.Settled.Load() }

// Summary is the exit line of a run: what it read and wrote, with the
// mode's own part, and what a stop left unwritten.
func (s *Stats) Summary(mode writer.Mode) string {
	line := fmt.Sprintf("read %d lines, %d metrics; wrote %d metrics in %d updates; rejected %d lines",
		s.Lines.Load(), s.Metrics.Load(), s.Written.Load(), s.Updates.Load(), s.Rejected.Load())
	if mode != nil {
		line += mode.Summary()
	}
	if s.NotWritten.Load() != 0 || s.Unknown.Load() != 0 {
		line += fmt.Sprintf("; not written %d metrics, unknown %d (sent, no reply)", s.NotWritten.Load(), s.Unknown.Load())
	}
	if n := s.Unspooled.Load(); n != 0 {
		line += fmt.Sprintf("; not written %d lines read from stdin and not spooled (spool_dir had no room)", n)
	}
	return line
}

// ErrUnwritten is returned when the run ended with metrics that never
// reached Redis.
var ErrUnwritten = errors.New("metrics left unwritten")

// ErrInput is returned when reading stdin (or spooling it) failed before
// its end: what was read is written, but the rest is not read. The reader
// has logged why.
var ErrInput = errors.New("stdin could not be read to its end")

// run is one Run: the reader and the flusher share the backlog.
type run struct {
	cfg   *Config
	lim   *Limits
	log   telegraf.Logger
	stats *Stats
	backlog

	// unknown counts the metrics of the flusher's batch that were handed
	// to a connection and got no reply (a stalled Redis): they may be in
	// Redis. The flusher's own.
	unknown int

	spool     *spool.Spool // nil without one
	readEnded chan struct{}
}

// Run reads in until it ends or ctx is cancelled (SIGTERM), writing to
// Redis as it goes. At the end of input everything read is written,
// retrying for as long as it takes; after cancellation it gets the grace
// period more. The error is ErrUnwritten (wrapped) when metrics were left
// behind, ErrInput when in could not be read to its end.
func Run(ctx context.Context, in io.Reader, cfg *Config, stats *Stats) error {
	u := &run{
		cfg:       cfg,
		lim:       &cfg.Limits,
		log:       cfg.Log,
		stats:     stats,
		readEnded: make(chan struct{}),
	}
	u.pending = cfg.Mode.NewBatch()
	u.wake = make(chan struct{}, 1)
	u.roomCond = sync.NewCond(&u.mu)

	sources := []source{{label: "line", r: in}}
	if cfg.Spool.Dir != "" {
		var err error
		var closeSpool func()
		sources, closeSpool, err = u.openSpool(ctx, in)
		if err != nil {
			return err
		}
		defer closeSpool()
	}

	go u.read(sources)

	client := redisconn.NewClient(cfg.Redis, "telegraf-redis-output")
	client.BindKey = cfg.BindKey // in a Redis Cluster, the quote's node (per-metric modes route per command)
	defer client.Close()
	left, unknown := u.flush(ctx, client)
	if err := u.closeSpool(); err != nil {
		return err
	}
	u.mu.Lock()
	readErr := u.readErr
	u.mu.Unlock()
	if left > 0 {
		if u.spool != nil {
			if unknown > 0 {
				u.log.Infof("%d metrics not yet in Redis are kept in the spool for the next start "+
					"(%d of them were sent without a reply: they may be written twice)", left, unknown)
			} else {
				u.log.Infof("%d metrics not yet in Redis are kept in the spool for the next start", left)
			}
			if readErr != nil {
				return fmt.Errorf("%w: %w", ErrInput, readErr)
			}
			return nil
		}
		stats.NotWritten.Store(int64(left - unknown))
		stats.Unknown.Store(int64(unknown))
		return fmt.Errorf("%w: %d metrics read from stdin were not written to Redis, and %d were sent without a reply", ErrUnwritten, left-unknown, unknown)
	}
	if readErr != nil {
		return fmt.Errorf("%w: %w", ErrInput, readErr)
	}
	return nil
}
