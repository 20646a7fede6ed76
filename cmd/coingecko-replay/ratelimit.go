package main

import "time"

// limiter admits at most max requests in any rolling minute.
type limiter struct {
	max   int
	times []time.Time // admitted requests of the last minute, oldest first
}

// allow admits a request at now and returns 0, or refuses it and returns how
// long until the oldest admitted request leaves the window.
func (l *limiter) allow(now time.Time) time.Duration {
	cut := now.Add(-time.Minute)
	i := 0
	for i < len(l.times) && !l.times[i].After(cut) {
		i++
	}
	l.times = l.times[i:]
	if len(l.times) >= l.max {
		return l.times[0].Sub(cut)
	}
	l.times = append(l.times, now)
	return 0
}
