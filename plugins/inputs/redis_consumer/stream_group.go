package redis_consumer

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gomodule/redigo/redis"
)

// The consumer group of stream mode: created at the first step, and
// created again where it was removed under us (XGROUP DESTROY, the key
// deleted), at the position that loses nothing.

// createGroup makes the group (and the stream, MKSTREAM) unless it
// exists. Once the group has delivered to us, or found gone, it is
// recreateGroup.
func (s *streamReader) createGroup(c redis.Conn) error {
	if s.groupLost || s.readAny {
		return s.recreateGroup(c)
	}
	_, err := c.Do("XGROUP", "CREATE", s.p.Key, s.p.Group, s.p.StartID, "MKSTREAM")
	switch {
	case err == nil:
		s.p.Log.Infof("created consumer group %q on stream %q at %s", s.p.Group, s.p.Key, s.p.StartID)
	case strings.HasPrefix(err.Error(), "BUSYGROUP"): // it exists: resume where the group is
	default:
		return err
	}
	s.needGroup = false
	return nil
}

// recreateGroup makes the group again when it was removed under us (or
// checks that it is there, after a reconnection), where none of the
// entries this consumer has not delivered is lost and as few as possible
// are delivered twice (README, "The group or the stream removed"):
//
//   - only the group is gone (XGROUP DESTROY): after the last entry the
//     group delivered to us, or just before the oldest entry Telegraf
//     holds or did not deliver (built in), whose pending state went with
//     the group; start_id when we read nothing yet. Entries after it are
//     delivered, none before it again. Not "0" (start_id's default):
//     that delivers the whole stream a second time;
//   - the stream is gone (the key was deleted, Redis lost it): the group
//     at "0" of a new stream, whose every entry came after the deletion.
//
// The first XGROUP CREATE is without MKSTREAM, so that Redis tells which
// of the two it is.
func (s *streamReader) recreateGroup(c redis.Conn) error {
	if !s.keyGone {
		at, why := s.recreateAt()
		_, err := c.Do("XGROUP", "CREATE", s.p.Key, s.p.Group, at)
		switch {
		case err == nil:
			gone := "is gone"
			if !s.groupLost {
				gone = "was gone when this consumer reconnected"
			}
			s.p.Log.Warnf("consumer group %q of stream %q %s, the stream is not (XGROUP DESTROY?): created the group again at %s, %s",
				s.p.Group, s.p.Key, gone, at, why)
			s.groupMade()
			return nil
		case strings.HasPrefix(err.Error(), "BUSYGROUP"):
			if s.groupLost {
				s.p.Log.Infof("consumer group %q of stream %q was gone and another consumer has created it again: reading on from where it is", s.p.Group, s.p.Key)
			}
			s.groupMade()
			return nil
		case !strings.Contains(err.Error(), "requires the key to exist"):
			return err
		}
	}
	_, err := c.Do("XGROUP", "CREATE", s.p.Key, s.p.Group, "0", "MKSTREAM")
	switch {
	case err == nil:
		s.p.Log.Warnf("stream %q is gone (the key was deleted, or Redis lost it), and consumer group %q with it: created both again, the group at 0, so that every entry the new stream gets is read",
			s.p.Key, s.p.Group)
	case strings.HasPrefix(err.Error(), "BUSYGROUP"):
		s.p.Log.Infof("stream %q was gone (the key was deleted) and another consumer has created it again with consumer group %q: reading on from where the group is", s.p.Key, s.p.Group)
	default:
		return err
	}
	s.readAny = false // IDs of the stream that was deleted
	s.groupMade()
	return nil
}

func (s *streamReader) groupMade() {
	s.needGroup, s.groupLost, s.keyGone = false, false, false
}

// recreateAt is the position (the ID taken as the last delivered) of a
// group created again over a stream that is still there, and why.
func (s *streamReader) recreateAt() (at, why string) {
	if low, ok := s.undelivered(); ok {
		at := "0"
		if before, ok := low.before(); ok {
			at = before.String()
		}
		return at, fmt.Sprintf("just before %s, the oldest entry Telegraf has not delivered: the entries from there on are read again", low)
	}
	if s.readAny {
		return s.lastRead.String(), "the last entry this consumer read: the entries after it are read, none before it again"
	}
	return s.p.StartID, "start_id, as this consumer had read nothing from it yet"
}

// entryID is a stream entry ID, <ms>-<seq>, as numbers.
type entryID struct{ ms, seq uint64 }

func parseEntryID(s string) (entryID, bool) {
	a, b, ok := strings.Cut(s, "-")
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return entryID{ms, seq}, ok && err1 == nil && err2 == nil
}

func (a entryID) less(b entryID) bool { return a.ms < b.ms || a.ms == b.ms && a.seq < b.seq }

func (a entryID) String() string {
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}

// before is the ID just before a; 0-0 has none.
func (a entryID) before() (entryID, bool) {
	switch {
	case a.seq > 0:
		return entryID{a.ms, a.seq - 1}, true
	case a.ms > 0:
		return entryID{a.ms - 1, math.MaxUint64}, true
	}
	return entryID{}, false
}

// noteRead keeps the highest ID the group delivered to us.
func (s *streamReader) noteRead(entries []entry) {
	if id, ok := parseEntryID(entries[len(entries)-1].id); ok && (!s.readAny || s.lastRead.less(id)) {
		s.lastRead, s.readAny = id, true
	}
}
