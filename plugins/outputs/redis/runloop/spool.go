package runloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/spool"
)

// The run's use of the spool: what is read from stdin is on disk before it
// is decoded, what a previous run left is replayed first, and the spool is
// committed as far as Redis has every line.

// openSpool opens the spool (waiting for it: see waitForSpool) and
// returns the sources to read, the replay and then stdin through the
// spool, and what closes them.
func (u *run) openSpool(ctx context.Context, in io.Reader) ([]source, func(), error) {
	dir := u.cfg.Spool.Dir
	sp, err := u.waitForSpool(ctx)
	switch {
	case err != nil:
		return nil, nil, err
	case sp == nil:
		// Stopped while kept from the spool: nothing was read yet. What
		// Telegraf wrote meanwhile is read to its end (Telegraf closes
		// stdin before its SIGTERM) and written to Redis without the
		// spool, in the time a stop allows.
		u.log.Warnf("stopped before spool_dir %s was free: writing what stdin holds to Redis without the spool", dir)
		u.drain = true
		return []source{{label: "line", r: in}}, func() {}, nil
	}
	sp.Log = u.log
	replay, err := sp.Replay()
	if err != nil {
		sp.Close()
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	u.spool = sp
	if held := sp.Held(); held > 0 {
		u.log.Infof("replaying %d bytes a previous run read but did not write to Redis (spool %s)", held, dir)
	}
	sources := []source{
		{label: "replayed line", r: replay, base: sp.Start()},
		{label: "line", r: sp.Tee(in), base: sp.End()},
	}
	return sources, func() { replay.Close(); sp.Close() }, nil
}

// closeSpool closes the spool once the flusher is done, so that stdin is
// no longer read and every line taken from it is counted: those read and
// neither in Redis nor on disk are lost, and said so.
func (u *run) closeSpool() error {
	if u.spool == nil {
		return nil
	}
	u.spool.Close()
	if lost := u.spool.Unspooled(); lost > 0 {
		u.stats.Unspooled.Store(lost)
		u.log.Errorf("stopping with %d lines read from stdin that are neither in Redis nor in spool_dir %s, which had no room for them: they are lost",
			lost, u.cfg.Spool.Dir)
		return fmt.Errorf("%w: %d lines read from stdin were neither written to Redis nor spooled", ErrUnwritten, lost)
	}
	return nil
}

// commit tells the spool that every line before offset is in Redis.
func (u *run) commit(offset int64) {
	if u.spool == nil {
		return
	}
	if err := u.spool.Commit(offset); err != nil {
		u.log.Errorf("spool: %v", err)
	}
}

// How often a process kept from its spool tries again, and how often it
// says so again.
const (
	spoolRetry  = time.Second
	spoolRemind = 5 * time.Minute
)

// waitForSpool opens spool_dir, waiting for as long as another process holds
// it, it holds data for another destination, or it is not there and the
// disk has no room to make it. Meanwhile stdin is not
// read: what Telegraf writes stays in the pipe and in Telegraf's buffer
// (and Kafka), where nothing is lost; exiting instead would make Telegraf
// restart us in a loop and lose what it wrote into each dead process's
// pipe. It returns nil, nil when ctx ends first.
func (u *run) waitForSpool(ctx context.Context) (*spool.Spool, error) {
	dir := u.cfg.Spool.Dir
	dest := u.cfg.Spool.Destination
	var said string               // the last reason logged
	var since, loggedAt time.Time // when the wait began, when it was last logged
	for {
		sp, err := spool.Open(dir, u.cfg.Spool.MaxSize, dest)
		var busy *spool.BusyError
		var foreign *spool.ForeignError
		until := "it is free"
		switch {
		case err == nil:
			if said != "" {
				u.log.Infof("spool_dir %s is ours now, after %s: reading stdin", dir, time.Since(since).Round(time.Second))
			}
			for _, note := range sp.Notes {
				level, msg, _ := strings.Cut(note, "! ")
				if level == "W" {
					u.log.Warnf("%s", msg)
				} else {
					u.log.Infof("%s", msg)
				}
			}
			return sp, nil
		case errors.As(err, &busy):
			err = fmt.Errorf("%w; two processes must not share a spool: give each its own spool_dir", err)
		case errors.As(err, &foreign):
			err = fmt.Errorf("%w. It is never replayed elsewhere: "+
				"run with that destination until the spool is empty, or move the directory away to give its data up", err)
		case spool.NoRoom(err):
			// Only a spool not yet made can need room to be opened: it
			// holds nothing to replay.
			err = fmt.Errorf("spool_dir %s cannot be made: %w", dir, err)
			until = "there is room"
		default:
			return nil, fmt.Errorf("spool: %w", err)
		}
		msg := err.Error()
		if msg != said || time.Since(loggedAt) >= spoolRemind {
			if said == "" {
				since = time.Now()
			}
			u.log.Errorf("%s; not reading stdin until %s (Telegraf keeps the metrics meanwhile)", msg, until)
			said, loggedAt = msg, time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(spoolRetry):
		}
	}
}
