package runloop

import (
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// Retry is how the write loops wait: the defaults, or shorter ones in
// tests.
type Retry struct {
	ProbeEvery time.Duration // while Redis is away, probe it at least this often (1s)
	BackoffMax time.Duration // the longest wait after a refusal (30s)
	// AfterProbe, in tests, runs when a probe found Redis back, before
	// the write: the moment for a fault.
	AfterProbe func()
}

const (
	defaultProbeEvery = time.Second
	defaultBackoffMax = 30 * time.Second
)

// Probe is how often Redis is probed while it is away, at least.
func (p *Retry) Probe() time.Duration {
	if p.ProbeEvery > 0 {
		return p.ProbeEvery
	}
	return defaultProbeEvery
}

// Backoff is the longest wait after a refusal.
func (p *Retry) Backoff() time.Duration {
	if p.BackoffMax > 0 {
		return p.BackoffMax
	}
	return defaultBackoffMax
}

// NewBackoffs returns the waits of a loop: while Redis is away (doubling
// up to the probe period) and after a refusal (doubling up to the cap).
func (p *Retry) NewBackoffs() (away, refused *redisconn.Backoff) {
	away = &redisconn.Backoff{Min: 100 * time.Millisecond, Max: max(100*time.Millisecond, p.Probe())}
	refused = &redisconn.Backoff{Min: 100 * time.Millisecond, Max: p.Backoff()}
	return away, refused
}

// alarm is a timer for the loop's select: c is nil while it is not set.
type alarm struct {
	t  *time.Timer
	c  <-chan time.Time
	at time.Time
}

func newAlarm() *alarm { return &alarm{} }

// set fires the alarm after d (replacing an earlier setting).
func (a *alarm) set(d time.Duration) { a.setAt(time.Now().Add(d)) }

func (a *alarm) setAt(at time.Time) {
	if a.c != nil && a.at.Equal(at) {
		return
	}
	a.stop()
	a.at = at
	a.t = time.NewTimer(time.Until(at))
	a.c = a.t.C
}

// pending tells whether the alarm is set and has not yet fired.
func (a *alarm) pending() bool { return a.c != nil && time.Now().Before(a.at) }

func (a *alarm) fired() { a.c, a.t = nil, nil }

func (a *alarm) stop() {
	if a.t != nil {
		a.t.Stop()
	}
	a.c, a.t, a.at = nil, nil, time.Time{}
}
