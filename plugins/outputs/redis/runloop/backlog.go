package runloop

import (
	"context"
	"sync"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// backlog is what the reader and the flusher share: the metrics read and
// not yet written, bounded by max_undelivered_metrics. While it is full
// the reader waits, and Telegraf's writes to our stdin block: the only
// back-pressure on Telegraf there is.
type backlog struct {
	mu       sync.Mutex
	roomCond *sync.Cond   // the backlog shrank, or reading must stop
	pending  writer.Batch // read, not yet taken by the flusher
	inflight int          // metrics the flusher holds
	stopping bool         // a signal came: read no more
	readDone bool
	// drain: after a stop, read stdin to its end all the same (it was
	// never read, and Telegraf has closed it); the grace period bounds it.
	drain bool
	// pendingEnd is, with a spool, the offset after the last line taken
	// into pending.
	pendingEnd int64
	wake       chan struct{} // the reader tells the flusher a write is due
	// readErr is why reading ended before the input did (not a stop).
	readErr error
}

// signal wakes the flusher.
func (u *run) signal() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// full tells whether the backlog is full; u.mu is held.
func (u *run) full() bool { return u.pending.Metrics()+u.inflight >= u.lim.MaxUndelivered }

// waitForRoom blocks the reader while the backlog is full: Telegraf's
// writes to our stdin then block, which is the back-pressure we want.
func (u *run) waitForRoom() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for (!u.stopping || u.drain) && u.full() {
		u.stats.Paused.Store(true)
		u.roomCond.Wait()
	}
	u.stats.Paused.Store(false)
}

// isStopping tells whether reading must end: a stop, unless the run
// drains stdin (stopped while waiting for its spool).
func (u *run) isStopping() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stopping && !u.drain
}

// readFailed logs why reading a source ended before its end, and keeps
// it for the exit status.
func (u *run) readFailed(src source, err error) {
	u.log.Errorf("reading %ss: %v; what was read is written to Redis, and the process then exits", src.label, err)
	u.mu.Lock()
	u.readErr = err
	u.mu.Unlock()
}

// size is the metrics read and not yet written.
func (u *run) size(inflight writer.Batch) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return inflight.Metrics() + u.pending.Metrics()
}

// stop ends reading (a stop signal came) and starts the grace period:
// its end, and the context writes now get.
func (u *run) stop() (<-chan time.Time, context.Context, context.CancelFunc) {
	u.mu.Lock()
	u.stopping = true
	u.roomCond.Broadcast()
	u.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), u.lim.Grace)
	return time.After(u.lim.Grace), ctx, cancel
}

// take moves what the reader decoded into the flusher's batch. It returns
// the batch, the spool offset its lines end at, and whether reading is
// over (the input ended, or a stop that does not drain).
func (u *run) take(inflight writer.Batch) (writer.Batch, int64, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pending.Metrics() > 0 {
		if inflight.Metrics() == 0 {
			inflight, u.pending = u.pending, inflight
		} else {
			inflight.Absorb(u.pending)
		}
	}
	u.inflight = inflight.Metrics()
	return inflight, u.pendingEnd, u.readDone || (u.stopping && !u.drain)
}

// freed gives back to the reader the room of n metrics of the batch
// being written that Redis has taken.
func (u *run) freed(n int) {
	if n == 0 {
		return
	}
	u.mu.Lock()
	u.inflight = max(0, u.inflight-n)
	u.roomCond.Broadcast()
	u.mu.Unlock()
}
