package runloop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// The writing side of a run: the flusher takes what the reader decoded,
// writes it, and after a stop signal gives it the grace period (timeout)
// before giving up. While Redis is away it is probed often (a PING every
// probe period at most) and written to as soon as it answers; a write the
// server refuses for its state (out of memory, read-only, ...) is retried
// with backoff; a command refused for its key holds that key alone (see
// package commands).

// flush writes batches until the input has ended and all is written, or
// until the time after a stop request runs out. It returns the number of
// metrics left unwritten, and how many of them were sent without a reply.
func (u *run) flush(ctx context.Context, client *redisconn.Client) (left, unknown int) {
	inflight := u.cfg.Mode.NewBatch()
	retryPolicy := &u.cfg.Retry
	awayBackoff, refusedBackoff := retryPolicy.NewBackoffs()
	outage := &redisconn.Outage{Log: u.log, Endpoint: u.cfg.Redis.Endpoint(), Probe: retryPolicy.Probe(), Backoff: retryPolicy.Backoff()}
	var takenEnd int64        // where the lines of the next take start, in the spool
	var tick <-chan time.Time // flush_interval 0: the reader's signals only
	if u.lim.FlushInterval > 0 {
		ticker := time.NewTicker(u.lim.FlushInterval)
		defer ticker.Stop()
		tick = ticker.C
	}
	retry := newAlarm() // the next attempt after a failure
	defer retry.stop()
	due := newAlarm() // the next retry of a held key
	defer due.stop()
	away := false // the last attempt found Redis away: probe before writing

	stopped := ctx.Done()
	var deadline <-chan time.Time // set once stopping: the grace period
	// Until a stop, writes end with it (a write stalled on a dead network
	// is given up at once); after it, they get the grace period.
	writeCtx := ctx
	cancelWrite := context.CancelFunc(func() {})
	defer func() { cancelWrite() }()

	for {
		select {
		case <-tick:
		case <-retry.c:
			retry.fired()
		case <-due.c:
			due.fired()
		case <-u.wake:
		case <-stopped:
			stopped = nil
			deadline, writeCtx, cancelWrite = u.stop()
			retry.stop() // one more try at once
			inflight.RetryNow()
		case <-deadline:
			return u.giveUp(inflight)
		}
		if retry.pending() {
			continue
		}
		if away {
			// Redis was away: a PING tells whether it is back, and the
			// write follows at once if it is.
			if err := client.Probe(writeCtx); err != nil {
				outage.Failed(err, fmt.Sprintf("keeping %d metrics", u.size(inflight)))
				if redisconn.Away(err) {
					retry.set(awayBackoff.Next())
				} else {
					away = false
					retry.set(refusedBackoff.Next())
				}
				continue
			}
			away = false
			if retryPolicy.AfterProbe != nil {
				retryPolicy.AfterProbe()
			}
		}

		var end int64
		var done bool
		inflight, end, done = u.take(inflight)
		if u.spool != nil {
			inflight.Stamp(takenEnd)
		}
		takenEnd = end
		if inflight.Metrics() == 0 {
			u.commit(end) // lines without metrics (bad, blank) are done too
			if done {
				return 0, 0
			}
			continue
		}
		if at := inflight.Next(time.Now()); time.Now().Before(at) {
			due.setAt(at) // every command waits for its key's retry
			continue
		}

		n := inflight.Metrics()
		res, err := u.write(writeCtx, client, inflight)
		if err != nil {
			n = u.failed(inflight, n, res.Handed, err)
			outage.Failed(err, fmt.Sprintf("keeping %d metrics", n))
			if redisconn.Away(err) {
				away = true
				retry.set(awayBackoff.Next())
			} else {
				retry.set(refusedBackoff.Next())
			}
			continue
		}
		outage.Succeeded()
		awayBackoff.Reset()
		refusedBackoff.Reset()
		if u.written(inflight, res, end, done) {
			return 0, 0
		}
		// Commands left wait for their keys: a key Redis took again has
		// more to send at once, the others at their retry.
		if at := inflight.Next(time.Now()); !at.IsZero() {
			if time.Now().Before(at) {
				due.setAt(at)
			} else {
				u.signal()
			}
		}
	}
}

// giveUp reports, when the grace period ran out, what was not written and
// what was sent without a reply.
func (u *run) giveUp(inflight writer.Batch) (left, unknown int) {
	u.mu.Lock()
	left = inflight.Metrics() + u.pending.Metrics()
	u.mu.Unlock()
	unknown = min(u.unknown, inflight.Metrics())
	grace := u.lim.Grace
	if held := inflight.Held(); held > 0 {
		u.log.Errorf("%d of the metrics left are for keys Redis refused (see the E! lines above)", held)
	}
	if unknown > 0 {
		u.log.Errorf("stopping with %d metrics not written to Redis and %d sent without a reply (Redis stalled: they may or may not be in it): "+
			"the %s allowed after the stop signal ran out", left-unknown, unknown, grace)
	} else {
		u.log.Errorf("stopping with %d metrics not written to Redis: the %s allowed after the stop signal ran out", left, grace)
	}
	return left, unknown
}

// failed accounts for a write that failed: a pipeline may have gone
// through in part, and what Redis took is out of the batch and of the
// backlog. It returns the metrics kept.
func (u *run) failed(inflight writer.Batch, n int, handed bool, err error) int {
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

// written accounts for a write that went through, commits its lines to
// the spool and frees its room in the backlog. Commands held for their
// keys stay in the batch (and in the backlog), and the spool is committed
// up to the first line they came from. It tells whether the run is
// finished (reading is over and nothing is left).
func (u *run) written(inflight writer.Batch, res writer.Result, end int64, done bool) bool {
	left := inflight.Metrics()
	end = inflight.Since(end)
	u.wrote(res)
	u.unknown = 0
	u.commit(end)
	u.mu.Lock()
	u.inflight = left
	u.roomCond.Broadcast()
	more := u.pending.Metrics() > 0 || !u.readDone
	piled := u.pending.Metrics() >= u.lim.BatchSize
	u.mu.Unlock()
	if done && !more && left == 0 {
		return true
	}
	if done || piled {
		u.signal() // the input ended or piled up while we wrote: go on at once
	}
	return false
}

// wrote counts a write that went through, and logs the lines it asked
// for (quote mode: prices refused, coins aged out, entries repaired).
func (u *run) wrote(res writer.Result) {
	u.stats.Written.Add(int64(res.Written))
	u.stats.Settled.Add(int64(res.Settled))
	for _, w := range res.Warnings {
		u.log.Warn(w)
	}
	for _, i := range res.Infos {
		u.log.Info(i)
	}
}

// write sends b; what each pipelined part of it wrote frees its room in
// the backlog part by part.
func (u *run) write(ctx context.Context, client *redisconn.Client, b writer.Batch) (writer.Result, error) {
	res, err := b.Write(ctx, &writer.Target{Client: client, Config: u.cfg.Redis, Progress: u.freed})
	u.stats.Updates.Add(int64(res.Updates))
	return res, err
}
