package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/spool"
)

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

// How often a process kept from its spool tries again, and how often it
// says so again.
const (
	spoolRetry  = time.Second
	spoolRemind = 5 * time.Minute
)

// openSpool opens spool_dir, waiting for as long as another process holds
// it, it holds data for another destination, or it is not there and the
// disk has no room to make it. Meanwhile stdin is not
// read: what Telegraf writes stays in the pipe and in Telegraf's buffer
// (and Kafka), where nothing is lost; exiting instead would make Telegraf
// restart us in a loop and lose what it wrote into each dead process's
// pipe. It returns nil, nil when ctx ends first.
func (r *Redis) openSpool(ctx context.Context) (*spool.Spool, error) {
	dest := r.destination()
	var said string               // the last reason logged
	var since, loggedAt time.Time // when the wait began, when it was last logged
	for {
		sp, err := spool.Open(r.SpoolDir, int64(r.SpoolMaxSize), dest)
		var busy *spool.BusyError
		var foreign *spool.ForeignError
		until := "it is free"
		switch {
		case err == nil:
			if said != "" {
				r.Log.Infof("spool_dir %s is ours now, after %s: reading stdin", r.SpoolDir, time.Since(since).Round(time.Second))
			}
			for _, note := range sp.Notes {
				level, msg, _ := strings.Cut(note, "! ")
				if level == "W" {
					r.Log.Warnf("%s", msg)
				} else {
					r.Log.Infof("%s", msg)
				}
			}
			return sp, nil
		case errors.As(err, &busy):
			err = fmt.Errorf("%w; two processes must not share a spool: give each its own spool_dir", err)
		case errors.As(err, &foreign):
			err = fmt.Errorf("%w. It is never replayed elsewhere: run with that destination until the spool is empty, or move the directory away to give its data up", err)
		case spool.NoRoom(err):
			// Only a spool not yet made can need room to be opened: it
			// holds nothing to replay.
			err = fmt.Errorf("spool_dir %s cannot be made: %w", r.SpoolDir, err)
			until = "there is room"
		default:
			return nil, fmt.Errorf("spool: %w", err)
		}
		msg := err.Error()
		if msg != said || time.Since(loggedAt) >= spoolRemind {
			if said == "" {
				since = time.Now()
			}
			r.Log.Errorf("%s; not reading stdin until %s (Telegraf keeps the metrics meanwhile)", msg, until)
			said, loggedAt = msg, time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(spoolRetry):
		}
	}
}
