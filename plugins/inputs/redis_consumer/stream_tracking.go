package redis_consumer

import (
	"context"
	"sync"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// tracker is stream mode built into Telegraf: the metrics of each entry go
// to Telegraf as one tracked group, and the entry is acknowledged only
// once Telegraf reports the group delivered, that is written by every
// output. So the stream's at-least-once reaches the outputs: an entry
// whose metrics Telegraf did not deliver (an output refused them, or
// dropped them from a full buffer; `telegraf --test` rejects every metric)
// or had not yet written when it stopped stays pending, and is handed over
// again from the pending list (pace). A group per entry, not per batch: an
// output that rejects some entries of a batch gets only those again, never
// the ones it has.
//
// The reader asks for the reports at the start of each step
// (pace.take) and acknowledges the delivered entries with the XACK it
// sends anyway; it reads only while Telegraf holds fewer entries than
// pace allows, at most max_undelivered_messages.
type tracker struct {
	ctx context.Context
	acc telegraf.TrackingAccumulator

	mu       sync.Mutex
	reported chan struct{}                  // a delivery report came
	groups   map[telegraf.TrackingID]string // the entry of each group in Telegraf's hands
	inFlight map[string]bool                // those entries
	done     []string                       // delivered, not yet acknowledged
	rejected []string                       // not delivered, not yet taken
	settled  map[string]bool                // the entries of done and rejected
}

// newTracker takes Telegraf's reports for at most maxEntries entries in
// its hands: the reader never hands over more (streamReader.count).
func newTracker(ctx context.Context, acc telegraf.Accumulator, maxEntries int) *tracker {
	return &tracker{
		ctx:      ctx,
		acc:      acc.WithTracking(maxEntries),
		reported: make(chan struct{}, 1),
		groups:   make(map[telegraf.TrackingID]string),
		inFlight: make(map[string]bool),
		settled:  make(map[string]bool),
	}
}

// watch takes Telegraf's delivery reports until ctx ends.
func (t *tracker) watch() {
	for {
		select {
		case <-t.ctx.Done():
			return
		case info := <-t.acc.Delivered():
			t.report(info)
		}
	}
}

func (t *tracker) report(info telegraf.DeliveryInfo) {
	t.mu.Lock()
	id, ok := t.groups[info.ID()]
	delete(t.groups, info.ID())
	delete(t.inFlight, id)
	switch {
	case !ok:
	case info.Delivered():
		t.done = append(t.done, id)
		t.settled[id] = true
	default:
		t.rejected = append(t.rejected, id)
		t.settled[id] = true
	}
	t.mu.Unlock()
	select {
	case t.reported <- struct{}{}:
	default:
	}
}

// add hands ms, the metrics of the entry id, to Telegraf.
func (t *tracker) add(ms []telegraf.Metric, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inFlight[id] = true
	// Registered before Telegraf can report the group delivered.
	t.groups[t.acc.AddTrackingMetricGroup(ms)] = id
}

// held is how many entries Telegraf holds.
func (t *tracker) held() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.inFlight)
}

// holds reports whether the entry is Telegraf's: in its hands, or
// reported since the last take (the XACK of a delivered one is not sent
// yet, a pass over the pending list may find it still there).
func (t *tracker) holds(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inFlight[id] || t.settled[id]
}

// take returns the entries delivered and those rejected since the last
// call, and how many entries Telegraf holds.
func (t *tracker) take() (done, rejected []string, held int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	done, rejected = t.done, t.rejected
	t.done, t.rejected = nil, nil
	clear(t.settled)
	return done, rejected, len(t.inFlight)
}

// oldest is the lowest ID among the entries Telegraf holds.
func (t *tracker) oldest() (entryID, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return lowestID(t.inFlight)
}

// wait returns on the next report, at until (if not zero), or when ctx
// ends.
func (t *tracker) wait(until time.Time) {
	var timeout <-chan time.Time
	if !until.IsZero() {
		timer := time.NewTimer(time.Until(until))
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-t.reported:
	case <-timeout:
	case <-t.ctx.Done():
	}
}

// pace is how many entries the reader may hand to Telegraf at once, and
// when. Normally max_undelivered_messages, as kafka_consumer's option of
// the same name. An entry Telegraf did not deliver is retried the way an
// NSQ consumer backs off, never in a loop:
//
//   - a rejection pauses reading (new entries, claims and the pending
//     list alike) until Telegraf has settled every entry it holds: handing
//     over more, or the same again, to a buffer that is dropping would
//     only be dropped too (and counted dropped again);
//   - then the rejected entries are read again from the pending list,
//     which now holds only entries that wait (and kept bad ones), so an
//     entry in Telegraf's hands is never delivered twice by Redis;
//   - no more entries go to Telegraf at once than it delivered since the
//     rejection, that much more with each delivery (as TCP's slow start),
//     back up to max_undelivered_messages; so a buffer that held 100
//     metrics is not handed 200;
//   - when Telegraf delivered nothing since (everything was rejected: a
//     buffer full of other inputs' metrics, an output refusing a metric,
//     or --test), one page (batch_size) is tried after a backoff of 1s
//     doubling to 30s, which a delivery resets.
type pace struct {
	max     int // max_undelivered_messages
	page    int // batch_size
	limit   int // entries Telegraf may hold now
	paused  bool
	probeAt time.Time // paused with nothing delivered: when to try a page
	backoff *redisconn.Backoff
	// waiting: rejected entries not handed over again yet, pending in
	// Redis. Emptied by a whole pass over the pending list: those it did
	// not find are no longer ours (acknowledged, claimed or deleted).
	waiting map[string]bool
	since   time.Time // the first rejection of the present run; zero: none
	rejects int       // rejections in the run
	// A run of rejections is a W! line and an I! line; one that starts
	// within a minute of the last one's end is logged at debug level,
	// or an entry that an output refuses every time would give two
	// lines at each of its flushes.
	loud       bool
	quietUntil time.Time

	log telegraf.Logger
	key string // the stream's
}

func newPace(maxEntries, page int, log telegraf.Logger, key string) pace {
	return pace{
		log:     log,
		key:     key,
		max:     maxEntries,
		page:    page,
		limit:   maxEntries,
		backoff: &redisconn.Backoff{Min: time.Second, Max: 30 * time.Second},
		waiting: make(map[string]bool),
	}
}

// take queues the entries t delivered for the XACK of this step (in a)
// and applies pace, to the pass over the pending list too. It returns
// whether the reader must wait before reading, and until when (zero: the
// next report).
func (f *pace) take(t *tracker, a *acks, pd *pendingList) (wait bool, until time.Time) {
	done, rejected, held := t.take()
	a.unacked = append(a.unacked, done...)
	if len(rejected) > 0 {
		f.rejected(rejected, pd)
	}
	if len(done) > 0 {
		f.backoff.Reset()
		f.limit = min(f.max, f.limit+len(done))
		if !f.since.IsZero() && !f.paused && len(f.waiting) == 0 {
			log := f.log.Debugf
			if f.loud {
				log = f.log.Infof
			}
			log("stream %q: Telegraf delivers again; the entries it did not deliver in the last %s (%d times) were handed over again",
				f.key, time.Since(f.since).Round(time.Millisecond), f.rejects)
			f.since, f.rejects, f.quietUntil = time.Time{}, 0, time.Now().Add(time.Minute)
		}
	}
	if f.paused {
		switch {
		case held > 0:
			return true, time.Time{}
		case f.limit == 0 && time.Now().Before(f.probeAt):
			return true, f.probeAt
		}
		// Telegraf holds none of ours: the rejected entries are read
		// again, from the start of the pending list, as many as it
		// delivered since, or one page.
		f.paused = false
		if f.limit == 0 {
			f.limit = min(f.page, f.max)
		}
		pd.from = "0"
	}
	// Reads of at least half a page, not of every entry delivered.
	return f.limit-held < max(1, min(f.page, f.limit)/2), time.Time{}
}

// rejected notes entries Telegraf did not deliver and pauses reading.
func (f *pace) rejected(ids []string, pd *pendingList) {
	for _, id := range ids {
		f.waiting[id] = true
	}
	f.rejects += len(ids)
	f.limit = 0
	// A pass over the pending list under way starts again from its start
	// once the pause is over.
	pd.from = ""
	if !f.paused {
		f.paused = true
		f.probeAt = time.Now().Add(f.backoff.Next())
	}
	in := max(0, time.Until(f.probeAt)).Round(time.Millisecond)
	if f.since.IsZero() {
		f.since = time.Now()
		f.loud = !f.since.Before(f.quietUntil)
		log := f.log.Debugf
		if f.loud {
			log = f.log.Warnf
		}
		log("stream %q: Telegraf did not deliver %d entries (an output refused their metrics or dropped them from a full buffer; "+
			"telegraf --test rejects every metric): they stay pending; reading pauses until Telegraf has settled the entries it holds, "+
			"then they are handed over again, at once if it delivered some, else in %s",
			f.key, len(ids), in)
		return
	}
	f.log.Debugf("stream %q: Telegraf did not deliver %d more entries; handed over again once it has settled what it holds, or in %s", f.key, len(ids), in)
}

// undelivered is the lowest ID among the entries Telegraf holds or did
// not deliver: where a consumer group created again must start for none
// of them to be lost.
func (f *pace) undelivered(t *tracker) (entryID, bool) {
	low, ok := t.oldest()
	if w, wok := lowestID(f.waiting); wok && (!ok || w.less(low)) {
		low, ok = w, true
	}
	return low, ok
}

func lowestID(ids map[string]bool) (entryID, bool) {
	var low entryID
	found := false
	for s := range ids {
		if id, ok := parseEntryID(s); ok && (!found || id.less(low)) {
			low, found = id, true
		}
	}
	return low, found
}
