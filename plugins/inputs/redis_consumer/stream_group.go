package redis_consumer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
)

// group is the consumer group of stream mode: created at the first step,
// and created again where it was removed under us (XGROUP DESTROY, the
// key deleted), at the position that loses nothing.
type group struct {
	key, name, startID string
	log                telegraf.Logger

	need bool // create the group, or check it is there, before reading
	// lost: a command found the group gone (NOGROUP); keyGone: the stream
	// too (UNBLOCKED). lastRead is the highest entry ID the group
	// delivered to us (readAny: there is one): see recreate.
	lost     bool
	keyGone  bool
	lastRead entryID
	readAny  bool
}

// create makes the group (and the stream, MKSTREAM) unless it exists.
// Once the group has delivered to us, or was found gone, it is recreate.
// low is the lowest ID among the entries Telegraf holds or did not
// deliver (lowOK: there is one).
func (g *group) create(c redis.Conn, low entryID, lowOK bool) error {
	if g.lost || g.readAny {
		return g.recreate(c, low, lowOK)
	}
	_, err := c.Do("XGROUP", "CREATE", g.key, g.name, g.startID, "MKSTREAM")
	switch {
	case err == nil:
		g.log.Infof("created consumer group %q on stream %q at %s", g.name, g.key, g.startID)
	case strings.HasPrefix(err.Error(), "BUSYGROUP"): // it exists: resume where the group is
	default:
		return err
	}
	g.need = false
	return nil
}

// recreate makes the group again when it was removed under us (or
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
func (g *group) recreate(c redis.Conn, low entryID, lowOK bool) error {
	if !g.keyGone {
		at, why := g.recreateAt(low, lowOK)
		_, err := c.Do("XGROUP", "CREATE", g.key, g.name, at)
		switch {
		case err == nil:
			gone := "is gone"
			if !g.lost {
				gone = "was gone when this consumer reconnected"
			}
			g.log.Warnf("consumer group %q of stream %q %s, the stream is not (XGROUP DESTROY?): created the group again at %s, %s",
				g.name, g.key, gone, at, why)
			g.made()
			return nil
		case strings.HasPrefix(err.Error(), "BUSYGROUP"):
			if g.lost {
				g.log.Infof("consumer group %q of stream %q was gone and another consumer has created it again: reading on from where it is", g.name, g.key)
			}
			g.made()
			return nil
		case !strings.Contains(err.Error(), "requires the key to exist"):
			return err
		}
	}
	_, err := c.Do("XGROUP", "CREATE", g.key, g.name, "0", "MKSTREAM")
	switch {
	case err == nil:
		g.log.Warnf("stream %q is gone (the key was deleted, or Redis lost it), and consumer group %q with it: "+
			"created both again, the group at 0, so that every entry the new stream gets is read", g.key, g.name)
	case strings.HasPrefix(err.Error(), "BUSYGROUP"):
		g.log.Infof("stream %q was gone (the key was deleted) and another consumer has created it again with consumer group %q: "+
			"reading on from where the group is", g.key, g.name)
	default:
		return err
	}
	g.readAny = false // IDs of the stream that was deleted
	g.made()
	return nil
}

func (g *group) made() {
	g.need, g.lost, g.keyGone = false, false, false
}

// recreateAt is the position (the ID taken as the last delivered) of a
// group created again over a stream that is still there, and why.
func (g *group) recreateAt(low entryID, lowOK bool) (at, why string) {
	if lowOK {
		at := "0"
		if before, ok := low.before(); ok {
			at = before.String()
		}
		return at, fmt.Sprintf("just before %s, the oldest entry Telegraf has not delivered: the entries from there on are read again", low)
	}
	if g.readAny {
		return g.lastRead.String(), "the last entry this consumer read: the entries after it are read, none before it again"
	}
	return g.startID, "start_id, as this consumer had read nothing from it yet"
}

// noteRead keeps the highest ID the group delivered to us.
func (g *group) noteRead(entries []entry) {
	if id, ok := parseEntryID(entries[len(entries)-1].id); ok && (!g.readAny || g.lastRead.less(id)) {
		g.lastRead, g.readAny = id, true
	}
}

// lostIn reads the error of a command: NOGROUP, the group is gone, or the
// key; UNBLOCKED, the key was deleted (or CLIENT UNBLOCK) while we waited
// in XREADGROUP (Redis 7). It says whether err was one of them; the group
// is then created again at the next step (recreate says why and where).
func (g *group) lostIn(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	switch msg := string(re); {
	case strings.HasPrefix(msg, "NOGROUP"):
		g.lost = true
	case strings.HasPrefix(msg, "UNBLOCKED") && strings.Contains(msg, "no longer exists"):
		g.lost, g.keyGone = true, true
	case strings.HasPrefix(msg, "UNBLOCKED"):
	default:
		return false
	}
	g.need = true
	return true
}
