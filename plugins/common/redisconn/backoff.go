package redisconn

import (
	"math/rand/v2"
	"time"
)

// Backoff yields waits that double from Min up to Max, with up to 20%
// jitter so that several plugin processes do not retry in lockstep.
type Backoff struct {
	Min, Max time.Duration
	next     time.Duration
}

// NewBackoff is the policy both plugins use: 100ms doubling to 30s.
func NewBackoff() *Backoff {
	return &Backoff{Min: 100 * time.Millisecond, Max: 30 * time.Second}
}

// Next returns the wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	if b.next < b.Min {
		b.next = b.Min
	}
	d := b.next
	b.next *= 2
	if b.next > b.Max {
		b.next = b.Max
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1)) //nolint:gosec // jitter spreads retries in time: no secret, no need for crypto/rand
}

// Reset starts again from Min after a success.
func (b *Backoff) Reset() { b.next = 0 }
