package redis_consumer

import (
	"time"

	"github.com/gomodule/redigo/redis"
)

// Entries already delivered: this consumer's own pending entries, read
// again after every reconnection, and entries of consumers that died
// before acknowledging them (XAUTOCLAIM).

// readPending re-reads the entries delivered to this consumer name and not
// acknowledged: a restarted consumer with the same name gets them back.
func (s *streamReader) readPending(c redis.Conn) error {
	reply, err := c.Do("XREADGROUP", "GROUP", s.p.Group, s.p.Consumer, "COUNT", s.count(), "STREAMS", s.p.Key, s.pendingFrom)
	if err != nil {
		return err
	}
	entries, err := readGroupEntries(reply)
	if err != nil || len(entries) == 0 {
		s.pendingFrom = ""
		if err == nil {
			s.pendingPassDone()
		}
		return err
	}
	s.pendingFrom = entries[len(entries)-1].id
	s.p.Log.Debugf("%d entries still pending for consumer %q delivered again", len(entries), s.p.Consumer)
	return s.process(c, entries)
}

// claim takes one page of entries idle for longer than claim_idle: their
// consumer died (or is stuck) before acknowledging them. A full pass over
// the pending list is repeated every claim_idle/2.
func (s *streamReader) claim(c redis.Conn) error {
	idle := time.Duration(s.p.ClaimIdle)
	reply, err := c.Do("XAUTOCLAIM", s.p.Key, s.p.Group, s.p.Consumer, idle.Milliseconds(), s.claimCursor, "COUNT", s.count())
	if err != nil {
		return err
	}
	cursor, entries, deleted, err := autoclaimEntries(reply)
	if err != nil {
		return err
	}
	if s.claimCursor = cursor; cursor == "0-0" {
		s.nextClaim = time.Now().Add(idle / 2)
	}
	if deleted > 0 {
		s.p.Log.Debugf("%d pending entries were no longer in the stream; Redis dropped them", deleted)
	}
	if fresh := len(entries) - s.countKept(entries); fresh > 0 {
		s.p.Log.Infof("claimed %d entries pending for more than %s", fresh, idle)
	}
	return s.process(c, entries)
}

func (s *streamReader) countKept(entries []entry) int {
	n := 0
	for _, e := range entries {
		if s.kept[e.id] {
			n++
		}
	}
	return n
}

// claimDue says whether it is time for a page of XAUTOCLAIM.
func (s *streamReader) claimDue() bool {
	return s.p.ClaimIdle > 0 && !time.Now().Before(s.nextClaim)
}
