package redis

import (
	"errors"
	"fmt"
	"io"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/linereader"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// The reading side of a run: lines from the spool's replay and from stdin
// decoded into the pending batch, and reading paused while the backlog is
// full (the only back-pressure on Telegraf there is).

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
	if u.r.decodesInParallel() {
		return u.readParallel(src)
	}
	lines := linereader.New(src.r, int(u.r.MaxLineSize))
	var lineErr error
	var lineNo int64
	var pending writer.Batch
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
				u.readFailed(src, err)
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

// readFailed logs why reading a source ended before its end, and keeps
// it for the exit status.
func (u *run) readFailed(src source, err error) {
	u.r.Log.Errorf("reading %ss: %v; what was read is written to Redis, and the process then exits", src.label, err)
	u.mu.Lock()
	u.readErr = err
	u.mu.Unlock()
}

func (u *run) signal() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}
