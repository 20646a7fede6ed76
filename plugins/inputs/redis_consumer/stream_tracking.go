package redis_consumer

import (
	"context"
	"strings"
	"sync"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
)

// tracker is stream mode built into Telegraf: the metrics of each batch of
// entries go to Telegraf as one tracked group, and the entries are
// acknowledged only once Telegraf reports the group delivered, that is
// written by every output. So the stream's at-least-once reaches the
// outputs: an entry whose metrics Telegraf lost (rejected from a full
// buffer) or had not yet written when it stopped stays pending, and is
// read again from the pending list.
//
// The reader asks for the delivered IDs at the start of each step and
// acknowledges them with the XACK it sends anyway (takeDelivered); at
// most max_undelivered_messages entries are in Telegraf's hands at once.
type tracker struct {
	ctx context.Context
	acc telegraf.TrackingAccumulator
	max int

	mu       sync.Mutex
	room     chan struct{}                    // a delivery report came
	groups   map[telegraf.TrackingID][]string // entry IDs of each group in flight
	inFlight map[string]bool
	done     []string // delivered, not yet acknowledged
	reread   bool     // a group was not delivered: read the pending list again
}

func newTracker(ctx context.Context, acc telegraf.Accumulator, max int) *tracker {
	t := &tracker{
		ctx:      ctx,
		acc:      acc.WithTracking(max),
		max:      max,
		room:     make(chan struct{}, 1),
		groups:   map[telegraf.TrackingID][]string{},
		inFlight: map[string]bool{},
	}
	return t
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
	ids := t.groups[info.ID()]
	delete(t.groups, info.ID())
	for _, id := range ids {
		delete(t.inFlight, id)
	}
	if info.Delivered() {
		t.done = append(t.done, ids...)
	} else {
		t.reread = true
	}
	t.mu.Unlock()
	select {
	case t.room <- struct{}{}:
	default:
	}
}

// add hands ms, the metrics of the entries ids, to Telegraf.
func (t *tracker) add(ms []telegraf.Metric, ids []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		t.inFlight[id] = true
	}
	// Registered before Telegraf can report the group delivered.
	id := t.acc.AddTrackingMetricGroup(ms)
	t.groups[id] = ids
}

func (t *tracker) holds(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inFlight[id]
}

// waitForRoom blocks while max entries are in Telegraf's hands.
func (t *tracker) waitForRoom() {
	for {
		t.mu.Lock()
		n := len(t.inFlight)
		t.mu.Unlock()
		if n < t.max {
			return
		}
		select {
		case <-t.room:
		case <-t.ctx.Done():
			return
		}
	}
}

// take returns the entries delivered since the last call, and whether a
// group was not delivered since.
func (t *tracker) take() (ids []string, reread bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids, reread = t.done, t.reread
	t.done, t.reread = nil, false
	return ids, reread
}

// takeDelivered queues the delivered entries for the XACK of this step,
// and has the pending list read again when Telegraf lost a group.
func (s *streamReader) takeDelivered() {
	ids, reread := s.track.take()
	s.unacked = append(s.unacked, ids...)
	if reread && s.pendingFrom == "" {
		s.pendingFrom = "0"
	}
}

// handOver is process built in: the metrics of the entries go to Telegraf
// as one group; deleted entries, and bad ones with on_parse_error = "ack",
// are acknowledged at once, as in process.
func (s *streamReader) handOver(c redis.Conn, entries []entry) error {
	var ms []telegraf.Metric
	var ids []string
	for _, e := range entries {
		if s.track.holds(e.id) {
			continue // read again from the pending list while Telegraf has it
		}
		if e.fields == nil {
			s.unacked = append(s.unacked, e.id)
			continue
		}
		got, err := s.metrics(e)
		if err != nil {
			if s.badEntry(e, err) {
				s.unacked = append(s.unacked, e.id)
			}
			continue
		}
		ms = append(ms, got...)
		// Held until Telegraf reports the group: a copy, not a slice of
		// the whole reply it was read from.
		ids = append(ids, strings.Clone(e.id))
	}
	if len(ms) > 0 {
		s.track.add(ms, ids)
	}
	if err := s.ack(c); err != nil {
		return err
	}
	s.track.waitForRoom()
	return nil
}
