package redis_consumer

import (
	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// acks are the IDs of stream entries to acknowledge: written to stdout (or
// delivered by Telegraf) and not yet acknowledged, and those of an XACK
// sent ahead of a read whose replies are still to be read. An ID is
// dropped only once Redis replied to its XACK, so an entry is never
// acknowledged before it was written; XACK of an ID already acknowledged
// does nothing, so sending one twice is harmless.
type acks struct {
	key, group string
	unacked    []string // to acknowledge
	acking     []string // in the XACK in flight
}

// ack acknowledges unacked in one XACK and waits for its reply; on
// failure they are kept, to be acknowledged at the next step.
func (a *acks) ack(c redis.Conn) error {
	if len(a.unacked) == 0 {
		return nil
	}
	if _, err := c.Do("XACK", redis.Args{a.key, a.group}.AddFlat(a.unacked)...); err != nil {
		return err
	}
	a.unacked = a.unacked[:0]
	return nil
}

// appendXACK appends to w the XACK of unacked as a RESP command, args
// serving as scratch; nothing when there is none. sent says it went out.
func (a *acks) appendXACK(w []byte, args []string) ([]byte, []string) {
	if len(a.unacked) == 0 {
		return w, args
	}
	args = append(append(args[:0], a.key, a.group), a.unacked...)
	return redisconn.AppendCommand(w, "XACK", args...), args
}

// sent moves the IDs of the XACK written by appendXACK aside, so that the
// entries of the batch in hand gather in unacked meanwhile.
func (a *acks) sent() { a.acking, a.unacked = a.unacked, a.acking[:0] }

// settle ends the XACK in flight: acknowledged, or, when its reply was an
// error or never came, its IDs back in unacked.
func (a *acks) settle(acknowledged bool) {
	if !acknowledged {
		a.unacked = append(a.unacked, a.acking...)
	}
	a.acking = a.acking[:0]
}
