package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/linereader"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/spool"
)

// Stats count what a run did; they end up in the exit summary.
type Stats struct {
	Lines    atomic.Int64 // lines read
	Metrics  atomic.Int64 // metrics accepted
	Rejected atomic.Int64 // lines with at least one refused metric
	Updates  atomic.Int64 // writes that reached Redis
	Written  atomic.Int64 // metrics those writes carried (quote: whose price reached the document)
	Quote    QuoteStats   // what quote mode did not write, and why
	// At a stop whose grace ran out: metrics certainly not in Redis, and
	// metrics sent without a reply (Redis stalled), which may be.
	NotWritten atomic.Int64
	Unknown    atomic.Int64
	// Paused is true while stdin is not read because the backlog is full
	// (tests wait on it rather than on time).
	Paused atomic.Bool
}

// ErrUnwritten is returned when the run ended with metrics that never
// reached Redis.
var ErrUnwritten = errors.New("metrics left unwritten")

// run is one Run: the reader and the flusher share the backlog.
type run struct {
	r     *Redis
	stats *Stats

	mu       sync.Mutex
	roomCond *sync.Cond // the backlog shrank, or reading must stop
	pending  batch      // read, not yet taken by the flusher
	inflight int        // metrics the flusher holds
	stopping bool       // a signal came: read no more
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
}

// Run reads stdin until it ends or ctx is cancelled (SIGTERM), writing to
// Redis as it goes. At the end of input everything read is written,
// retrying for as long as it takes; after cancellation it gets `timeout`
// more. The error is ErrUnwritten (wrapped) when metrics were left behind.
func (r *Redis) Run(ctx context.Context, in io.Reader, stats *Stats) error {
	u := &run{
		r:         r,
		stats:     stats,
		pending:   r.newBatch(),
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
	if left > 0 {
		if u.spool != nil {
			if unknown > 0 {
				r.Log.Infof("%d metrics not yet in Redis are kept in the spool for the next start (%d of them were sent without a reply: they may be written twice)", left, unknown)
			} else {
				r.Log.Infof("%d metrics not yet in Redis are kept in the spool for the next start", left)
			}
			return nil
		}
		stats.NotWritten.Store(int64(left - unknown))
		stats.Unknown.Store(int64(unknown))
		return fmt.Errorf("%w: %d metrics read from stdin were not written to Redis, and %d were sent without a reply", ErrUnwritten, left-unknown, unknown)
	}
	return nil
}

// source is where lines come from: the spool's replay, then stdin. base
// is the spool offset of its first byte, so every line has an offset that
// can be committed once it is in Redis.
type source struct {
	label string
	r     io.Reader
	base  int64
}

// read decodes the sources line by line into the pending batch, waiting
// while the backlog is full.
func (u *run) read(sources []source) {
	defer func() {
		u.mu.Lock()
		u.readDone = true
		u.mu.Unlock()
		close(u.readEnded)
		u.signal()
	}()
	for _, src := range sources {
		if !u.readSource(src) {
			return
		}
	}
}

// readSource reads one source to its end; false means stop reading.
func (u *run) readSource(src source) bool {
	if u.parallelDecode() {
		return u.readParallel(src)
	}
	lines := linereader.New(src.r, int(u.r.MaxLineSize))
	var lineErr error
	var lineNo int64
	var pending batch
	add := func(m *metricline.Metric) {
		if err := pending.Add(m); err != nil {
			if lineErr == nil {
				lineErr = fmt.Errorf("metric at %d: %w", m.Time, err)
			}
			return
		}
		u.stats.Metrics.Add(1)
	}
	for {
		if u.r.FlushInterval == 0 && lines.WouldWait() {
			// What was written so far is read (a Telegraf flush, usually):
			// write it now rather than on a timer of our own.
			u.signal()
		}
		line, err := lines.Next()
		lineNo = lines.Line()
		var tooLong *linereader.TooLongError
		switch {
		case errors.Is(err, io.EOF):
			return true
		case errors.As(err, &tooLong):
			u.stats.Lines.Add(1)
			u.stats.Rejected.Add(1)
			u.r.Log.Errorf("%s %d: %v: %q", src.label, tooLong.Line, err, tooLong.Head)
			u.mu.Lock()
			u.pendingEnd = src.base + lines.Offset()
			u.mu.Unlock()
			continue
		case err != nil:
			u.mu.Lock()
			stopping := u.stopping
			u.mu.Unlock()
			if !stopping { // at a stop, the spool closing under a blocked read is no news
				u.r.Log.Errorf("reading %ss: %v", src.label, err)
			}
			return false
		}
		u.stats.Lines.Add(1)

		u.mu.Lock()
		if u.stopping && !u.drain {
			u.mu.Unlock()
			return false
		}
		pending, lineErr = u.pending, nil
		derr := u.r.decoder.Decode(line, add)
		u.pendingEnd = src.base + lines.Offset()
		full := u.pending.Metrics()+u.inflight >= u.r.MaxUndeliveredMetrics
		due := u.pending.Metrics() >= u.r.MetricBatchSize
		u.mu.Unlock()

		if derr == nil {
			derr = lineErr
		}
		if derr != nil {
			u.stats.Rejected.Add(1)
			u.r.Log.Errorf("%s %d: %v: %q", src.label, lineNo, derr, logger.Head(line))
		}
		if due || full {
			u.signal()
		}
		if full {
			u.waitForRoom()
		}
	}
}

// waitForRoom blocks the reader while the backlog is full: Telegraf's
// writes to our stdin then block, which is the back-pressure we want.
func (u *run) waitForRoom() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for (!u.stopping || u.drain) && u.pending.Metrics()+u.inflight >= u.r.MaxUndeliveredMetrics {
		u.stats.Paused.Store(true)
		u.roomCond.Wait()
	}
	u.stats.Paused.Store(false)
}

func (u *run) signal() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// flush writes batches until the input has ended and all is written, or
// until the time after a stop request runs out. It returns the number of
// metrics left unwritten, and how many of them were sent without a reply.
func (u *run) flush(ctx context.Context, client *redisconn.Client) (left, unknown int) {
	r := u.r
	inflight := r.newBatch()
	backoff := redisconn.NewBackoff()
	outage := &redisconn.Outage{Log: r.Log, Endpoint: r.Endpoint()}
	var tick <-chan time.Time // flush_interval 0: the reader's signals only
	if r.FlushInterval > 0 {
		ticker := time.NewTicker(time.Duration(r.FlushInterval))
		defer ticker.Stop()
		tick = ticker.C
	}
	var retry <-chan time.Time

	stopped := ctx.Done()
	var deadline <-chan time.Time // set once stopping: the grace period
	// Until a stop, writes end with it (a write stalled on a dead network
	// is given up at once); after it, they get the grace period.
	writeCtx := ctx
	retryAt := time.Time{}

	for {
		select {
		case <-tick:
		case <-retry:
			retry = nil
		case <-u.wake:
		case <-stopped:
			stopped = nil
			u.mu.Lock()
			u.stopping = true
			u.roomCond.Broadcast()
			u.mu.Unlock()
			timeout := time.Duration(r.Timeout)
			deadline = time.After(timeout)
			var cancel context.CancelFunc
			writeCtx, cancel = context.WithTimeout(context.Background(), timeout)
			defer cancel()
			retryAt = time.Time{} // one more try at once
		case <-deadline:
			u.mu.Lock()
			left := inflight.Metrics() + u.pending.Metrics()
			u.mu.Unlock()
			unknown := min(u.unknown, inflight.Metrics())
			if unknown > 0 {
				r.Log.Errorf("stopping with %d metrics not written to Redis and %d sent without a reply (Redis stalled: they may or may not be in it): the %s allowed after the stop signal ran out", left-unknown, unknown, time.Duration(r.Timeout))
			} else {
				r.Log.Errorf("stopping with %d metrics not written to Redis: the %s allowed after the stop signal ran out", left, time.Duration(r.Timeout))
			}
			return left, unknown
		}
		if time.Now().Before(retryAt) {
			continue
		}

		u.mu.Lock()
		if u.pending.Metrics() > 0 {
			if inflight.Metrics() == 0 {
				inflight, u.pending = u.pending, inflight
			} else {
				inflight.Absorb(u.pending)
			}
		}
		u.inflight = inflight.Metrics()
		inflightEnd := u.pendingEnd
		done := u.readDone || (u.stopping && !u.drain)
		u.mu.Unlock()

		if inflight.Metrics() == 0 {
			u.commit(inflightEnd) // lines without metrics (bad, blank) are done too
			if done {
				return 0, 0
			}
			continue
		}

		n := inflight.Metrics()
		handed, err := u.write(writeCtx, client, inflight)
		if err != nil {
			// A pipeline may have gone through in part; what Redis took
			// is out of the batch and out of the backlog.
			if left := inflight.Metrics(); left < n {
				u.stats.Written.Add(int64(n - left))
				u.mu.Lock()
				u.inflight = left
				u.roomCond.Broadcast()
				u.mu.Unlock()
				n = left
			}
			var reply redis.Error
			if handed && !errors.As(err, &reply) {
				u.unknown = n // sent, and no reply: applied or not, nobody knows
			} else {
				u.unknown = min(u.unknown, n)
			}
			outage.Failed(err, fmt.Sprintf("keeping %d metrics", n))
			wait := backoff.Next()
			retryAt = time.Now().Add(wait)
			retry = time.After(wait)
			continue
		}
		outage.Succeeded()
		backoff.Reset()
		retryAt = time.Time{}
		u.r.wrote(u.stats, inflight, n)
		u.unknown = 0
		u.commit(inflightEnd)
		inflight.Reset()
		u.mu.Lock()
		u.inflight = 0
		u.roomCond.Broadcast()
		more := u.pending.Metrics() > 0 || !u.readDone
		piled := u.pending.Metrics() >= r.MetricBatchSize
		u.mu.Unlock()
		if done && !more {
			return 0, 0
		}
		if done || piled {
			u.signal() // the input ended or piled up while we wrote: go on at once
		}
	}
}

// commit tells the spool that every line before offset is in Redis.
func (u *run) commit(offset int64) {
	if u.spool == nil {
		return
	}
	if err := u.spool.Commit(offset); err != nil {
		u.r.Log.Errorf("spool: %v", err)
	}
}

// write sends b. handed tells whether it reached a connection (a failed
// dial sends nothing).
func (u *run) write(ctx context.Context, client *redisconn.Client, b batch) (handed bool, err error) {
	updates, handed, err := u.r.writeBatch(ctx, client, b)
	u.stats.Updates.Add(int64(updates))
	return handed, err
}

// DryRun reads all of in and prints the Redis commands it would send, one
// batch per metric_batch_size metrics and one at the end. It connects to
// nothing.
func (r *Redis) DryRun(in io.Reader, out io.Writer, stats *Stats) error {
	lines := linereader.New(in, int(r.MaxLineSize))
	b := r.newBatch()
	emit := func() error {
		for _, c := range b.Commands() {
			if _, err := fmt.Fprintln(out, c); err != nil {
				return err
			}
			stats.Updates.Add(1)
		}
		stats.Written.Add(int64(b.Metrics()))
		b.Reset()
		return nil
	}
	for {
		line, err := lines.Next()
		var tooLong *linereader.TooLongError
		switch {
		case errors.Is(err, io.EOF):
			return emit()
		case errors.As(err, &tooLong):
			stats.Lines.Add(1)
			stats.Rejected.Add(1)
			r.Log.Errorf("line %d: %v: %q", tooLong.Line, err, tooLong.Head)
			continue
		case err != nil:
			return err
		}
		stats.Lines.Add(1)
		var addErr error
		derr := r.decoder.Decode(line, func(m *metricline.Metric) {
			if err := b.Add(m); err != nil {
				addErr = err
				return
			}
			stats.Metrics.Add(1)
		})
		if derr == nil {
			derr = addErr
		}
		if derr != nil {
			stats.Rejected.Add(1)
			r.Log.Errorf("line %d: %v: %q", lines.Line(), derr, logger.Head(line))
		}
		if b.Metrics() >= r.MetricBatchSize {
			if err := emit(); err != nil {
				return err
			}
		}
	}
}
