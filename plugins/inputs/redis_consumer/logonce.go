package redis_consumer

import "sync"

// onceLog keeps a problem that every gather would meet again (a missing
// key, the same bad document) to one log line until it changes or goes
// away. Safe for concurrent use: quote mode reports from two loops.
type onceLog struct {
	mu   sync.Mutex
	last string
}

// report logs msg with logf unless it is the message logged last.
func (o *onceLog) report(logf func(string, ...any), msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if msg == o.last {
		return
	}
	o.last = msg
	logf("%s", msg)
}

// clear forgets the last problem: the next one is logged again.
func (o *onceLog) clear() {
	o.mu.Lock()
	o.last = ""
	o.mu.Unlock()
}
