package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/spool"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

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
// write mode's own part, and what a stop left unwritten.
func (r *Redis) Summary(s *Stats) string {
	line := fmt.Sprintf("read %d lines, %d metrics; wrote %d metrics in %d updates; rejected %d lines",
		s.Lines.Load(), s.Metrics.Load(), s.Written.Load(), s.Updates.Load(), s.Rejected.Load())
	if r.mode != nil {
		line += r.mode.Summary()
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
	r     *Redis
	stats *Stats

	mu       sync.Mutex
	roomCond *sync.Cond // the backlog shrank, or reading must stop
	mode     writer.Mode
	pending  writer.Batch // read, not yet taken by the flusher
	inflight int          // metrics the flusher holds
	stopping bool         // a signal came: read no more
	readDone bool
	// unknown counts the metrics of the flusher's batch that were handed
	// to a connection and got no reply (a stalled Redis): they may be in
	// Redis. The flusher's own.
	unknown int
	// drain: after a stop, read stdin to its end all the same (it was
	// never read, and Telegraf has closed it); the grace period bounds it.
	drain bool

	// With a spool: the offset after the last line taken into pending,
	// and after the last line the flusher's batch holds.
	spool      *spool.Spool
	pendingEnd int64
	wake       chan struct{}
	readEnded  chan struct{}
	// readErr is why reading ended before the input did (not a stop).
	readErr error
}

// Run reads stdin until it ends or ctx is cancelled (SIGTERM), writing to
// Redis as it goes. At the end of input everything read is written,
// retrying for as long as it takes; after cancellation it gets `timeout`
// more. The error is ErrUnwritten (wrapped) when metrics were left behind.
func (r *Redis) Run(ctx context.Context, in io.Reader, stats *Stats) error {
	r.mode = r.newMode()
	u := &run{
		r:         r,
		stats:     stats,
		mode:      r.mode,
		pending:   r.mode.NewBatch(),
		wake:      make(chan struct{}, 1),
		readEnded: make(chan struct{}),
	}
	u.roomCond = sync.NewCond(&u.mu)

	sources := []source{{label: "line", r: in}}
	if r.SpoolDir != "" {
		sp, err := r.openSpool(ctx)
		switch {
		case err != nil:
			return err
		case sp == nil:
			// Stopped while kept from the spool: nothing was read yet.
			// What Telegraf wrote meanwhile is read to its end (Telegraf
			// closes stdin before its SIGTERM) and written to Redis
			// without the spool, in the time a stop allows.
			r.Log.Warnf("stopped before spool_dir %s was free: writing what stdin holds to Redis without the spool", r.SpoolDir)
			u.drain = true
		default:
			defer sp.Close()
			sp.Log = r.Log
			u.spool = sp
			replay, err := sp.Replay()
			if err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			defer replay.Close()
			if held := sp.Held(); held > 0 {
				r.Log.Infof("replaying %d bytes a previous run read but did not write to Redis (spool %s)", held, r.SpoolDir)
			}
			sources = []source{
				{label: "replayed line", r: replay, base: sp.Start()},
				{label: "line", r: sp.Tee(in), base: sp.End()},
			}
		}
	}

	go u.read(sources)

	client := redisconn.NewClient(&r.Config, "telegraf-redis-output")
	client.BindKey = r.Key // in a Redis Cluster, the quote's node (per-metric modes route per command)
	defer client.Close()
	left, unknown := u.flush(ctx, client)
	if u.spool != nil {
		// Closed first, so that stdin is no longer read: every line
		// taken from it is counted below.
		u.spool.Close()
		if lost := u.spool.Unspooled(); lost > 0 {
			stats.Unspooled.Store(lost)
			r.Log.Errorf("stopping with %d lines read from stdin that are neither in Redis nor in spool_dir %s, which had no room for them: they are lost", lost, r.SpoolDir)
			return fmt.Errorf("%w: %d lines read from stdin were neither written to Redis nor spooled", ErrUnwritten, lost)
		}
	}
	u.mu.Lock()
	readErr := u.readErr
	u.mu.Unlock()
	if left > 0 {
		if u.spool != nil {
			if unknown > 0 {
				r.Log.Infof("%d metrics not yet in Redis are kept in the spool for the next start (%d of them were sent without a reply: they may be written twice)", left, unknown)
			} else {
				r.Log.Infof("%d metrics not yet in Redis are kept in the spool for the next start", left)
			}
			if readErr != nil {
				return fmt.Errorf("%w: %v", ErrInput, readErr)
			}
			return nil
		}
		stats.NotWritten.Store(int64(left - unknown))
		stats.Unknown.Store(int64(unknown))
		return fmt.Errorf("%w: %d metrics read from stdin were not written to Redis, and %d were sent without a reply", ErrUnwritten, left-unknown, unknown)
	}
	if readErr != nil {
		return fmt.Errorf("%w: %v", ErrInput, readErr)
	}
	return nil
}
