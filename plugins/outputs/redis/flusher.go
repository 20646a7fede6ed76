package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// The writing side of a run: the flusher takes what the reader decoded,
// writes it, retries with backoff while Redis is away, and after a stop
// signal gives it the grace period (timeout) before giving up.

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
	retryAt := time.Time{}

	stopped := ctx.Done()
	var deadline <-chan time.Time // set once stopping: the grace period
	// Until a stop, writes end with it (a write stalled on a dead network
	// is given up at once); after it, they get the grace period.
	writeCtx := ctx

	for {
		select {
		case <-tick:
		case <-retry:
			retry = nil
		case <-u.wake:
		case <-stopped:
			stopped = nil
			var cancel context.CancelFunc
			deadline, writeCtx, cancel = u.stop()
			defer cancel()
			retryAt = time.Time{} // one more try at once
		case <-deadline:
			return u.giveUp(inflight)
		}
		if time.Now().Before(retryAt) {
			continue
		}

		var end int64
		var done bool
		inflight, end, done = u.take(inflight)
		if inflight.Metrics() == 0 {
			u.commit(end) // lines without metrics (bad, blank) are done too
			if done {
				return 0, 0
			}
			continue
		}

		n := inflight.Metrics()
		handed, err := u.write(writeCtx, client, inflight)
		if err != nil {
			n = u.failed(inflight, n, handed, err)
			outage.Failed(err, fmt.Sprintf("keeping %d metrics", n))
			wait := backoff.Next()
			retryAt, retry = time.Now().Add(wait), time.After(wait)
			continue
		}
		outage.Succeeded()
		backoff.Reset()
		retryAt = time.Time{}
		if u.written(inflight, n, end, done) {
			return 0, 0
		}
	}
}

// stop ends reading (a stop signal came) and starts the grace period:
// its end, and the context writes now get.
func (u *run) stop() (<-chan time.Time, context.Context, context.CancelFunc) {
	u.mu.Lock()
	u.stopping = true
	u.roomCond.Broadcast()
	u.mu.Unlock()
	timeout := time.Duration(u.r.Timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	return time.After(timeout), ctx, cancel
}

// giveUp reports, when the grace period ran out, what was not written and
// what was sent without a reply.
func (u *run) giveUp(inflight batch) (left, unknown int) {
	u.mu.Lock()
	left = inflight.Metrics() + u.pending.Metrics()
	u.mu.Unlock()
	unknown = min(u.unknown, inflight.Metrics())
	grace := time.Duration(u.r.Timeout)
	if unknown > 0 {
		u.r.Log.Errorf("stopping with %d metrics not written to Redis and %d sent without a reply (Redis stalled: they may or may not be in it): the %s allowed after the stop signal ran out", left-unknown, unknown, grace)
	} else {
		u.r.Log.Errorf("stopping with %d metrics not written to Redis: the %s allowed after the stop signal ran out", left, grace)
	}
	return left, unknown
}

// take moves what the reader decoded into the flusher's batch. It returns
// the batch, the spool offset its lines end at, and whether reading is
// over (the input ended, or a stop that does not drain).
func (u *run) take(inflight batch) (batch, int64, bool) {
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

// failed accounts for a write that failed: a pipeline may have gone
// through in part, and what Redis took is out of the batch and of the
// backlog. It returns the metrics kept.
func (u *run) failed(inflight batch, n int, handed bool, err error) int {
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
	return n
}

// written accounts for a batch of n metrics that reached Redis, commits
// its lines to the spool and frees its room in the backlog. It tells
// whether the run is finished (reading is over and nothing is left).
func (u *run) written(inflight batch, n int, end int64, done bool) bool {
	u.r.wrote(u.stats, inflight, n)
	u.unknown = 0
	u.commit(end)
	inflight.Reset()
	u.mu.Lock()
	u.inflight = 0
	u.roomCond.Broadcast()
	more := u.pending.Metrics() > 0 || !u.readDone
	piled := u.pending.Metrics() >= u.r.MetricBatchSize
	u.mu.Unlock()
	if done && !more {
		return true
	}
	if done || piled {
		u.signal() // the input ended or piled up while we wrote: go on at once
	}
	return false
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
	// A batch that reports what each pipelined part of it wrote frees its
	// room in the backlog part by part.
	if p, ok := b.(interface{ setProgress(func(int)) }); ok {
		p.setProgress(u.freed)
	}
	updates, handed, err := u.r.writeBatch(ctx, client, b)
	u.stats.Updates.Add(int64(updates))
	return handed, err
}
