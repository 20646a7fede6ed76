package redisconn

import (
	"sync"
	"time"

	"github.com/influxdata/telegraf"
)

// Outage turns a run of failed attempts into two log lines: one when it
// starts, one when Redis is back; a change of cause in between is logged
// at debug level.
// A failure that needs an operator (see NeedsOperator) is an error, any
// other a warning.
//
// It is safe for several loops to report to one Outage: Redis going away
// is one outage however many connections notice it.
type Outage struct {
	Log      telegraf.Logger
	Endpoint string
	Action   string // what was refused: "write" (the default) or "read"
	// Probe, when set, is how often the loop probes Redis while it is away
	// (see Away), rather than waiting out a backoff; the line says so.
	Probe time.Duration
	// Backoff is the longest wait between attempts otherwise (30s when 0).
	Backoff time.Duration

	mu       sync.Mutex
	since    time.Time
	attempts int
	last     string
}

// Failed records a failed attempt; held describes what is kept meanwhile.
func (o *Outage) Failed(err error, held string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.attempts++
	msg := err.Error()
	if !o.since.IsZero() {
		if msg != o.last {
			o.Log.Debugf("Redis at %s still unavailable, now: %s", o.Endpoint, msg)
			o.last = msg
		}
		return
	}
	o.since, o.last = time.Now(), msg
	backoff := o.Backoff
	if backoff <= 0 {
		backoff = 30 * time.Second
	}
	if NeedsOperator(err) {
		action := o.Action
		if action == "" {
			action = "write"
		}
		o.Log.Errorf("Redis at %s refused the %s: %s; %s, retrying with backoff up to %s until this is fixed", o.Endpoint, action, msg, held, backoff)
		return
	}
	if o.Probe > 0 && Away(err) {
		o.Log.Warnf("Redis at %s is unavailable: %s; %s, probing it every %s and going on as soon as it answers", o.Endpoint, msg, held, o.Probe)
		return
	}
	o.Log.Warnf("Redis at %s is unavailable: %s; %s, retrying with backoff up to %s", o.Endpoint, msg, held, backoff)
}

// Succeeded ends an outage, if there was one.
func (o *Outage) Succeeded() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return
	}
	o.Log.Infof("Redis at %s is back after %s and %d failed attempts", o.Endpoint,
		time.Since(o.since).Round(time.Millisecond), o.attempts)
	o.since, o.attempts, o.last = time.Time{}, 0, ""
}

// Active reports whether the last attempt failed.
func (o *Outage) Active() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.since.IsZero()
}
