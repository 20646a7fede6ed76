package redis_consumer

import (
	"errors"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// newEntries reads the entries never delivered (XREADGROUP ">"): through
// redigo on a Redis Cluster; on a single server on our own RESP path,
// each read sent with the XACK of the batch before, and the next read
// sent ahead while a full batch is written.
type newEntries struct {
	key, group, consumer string
	block                time.Duration
	batchSize            int
	count                int // COUNT of the reads of this step
	acks                 *acks

	replies *rawReplies
	wire    []byte
	args    []string
	// inflight: an XREADGROUP was sent on replies.conn and its reply (and
	// that of the XACK sent before it) is still to be read: nothing else
	// may be sent or read on that connection before.
	inflight bool
	reads    int // reads done, for -once and outages
	// overlap allows sending the next read before a full batch is
	// written; off with -once, in the built-in mode and once stopping.
	// ahead is overlap for the reply being read; sendErr the failure to
	// send the next read.
	overlap bool
	ahead   bool
	sendErr error
}

// rawReplies returns our reply reader for c, or nil where replies are read
// with redigo (a Redis Cluster connection).
func (n *newEntries) rawReplies(c redis.Conn) *rawReplies {
	rc, ok := c.(*redisconn.Conn)
	if !ok || !rc.CanWriteRaw() {
		return nil
	}
	if n.replies == nil || n.replies.conn != rc {
		n.replies = newRawReplies(rc)
		n.replies.counted = n.readAhead
	}
	return n.replies
}

// read waits up to `block` for entries never delivered (rr nil: through
// redigo). The reply must come within the connection's read timeout,
// `timeout`, which Init keeps longer than block. after is an error to
// return once the entries are written: the XACK sent with the read was
// refused (a redis.Error: the connection stays), or the read sent ahead
// could not be written (the connection is dropped, the batch in hand is
// still written, and acknowledged on the next one). claimDue keeps the
// next read from going out ahead when a claim comes first.
func (n *newEntries) read(c redis.Conn, rr *rawReplies, claimDue bool) (entries []entry, after, err error) {
	if rr == nil {
		reply, err := c.Do("XREADGROUP", "GROUP", n.group, n.consumer, "COUNT", n.count,
			"BLOCK", n.block.Milliseconds(), "STREAMS", n.key, ">")
		if err != nil {
			return nil, nil, err
		}
		n.reads++
		entries, err := readGroupEntries(reply)
		return entries, nil, err
	}
	return n.readRaw(rr, claimDue)
}

// readRaw is read on our own RESP path: the XACK of what was written last
// (if any) and XREADGROUP in one write, then both replies.
//
// A full batch (COUNT entries) means more are probably waiting, so the
// next read goes out as soon as the reply says how many entries it holds
// (readAhead), before they are parsed, converted and written: Redis reads
// the next batch while we handle this one (overlap). That read does not
// BLOCK, so that the XACK sent with a later read never waits behind it;
// once a read comes back short, the stream is caught up and the next step
// is a blocking read again. Entries point into rr's buffer, and the reply
// in flight is only parsed at the next step, after this batch was written:
// it waits in the socket (or after this reply in the buffer) meanwhile.
func (n *newEntries) readRaw(rr *rawReplies, claimDue bool) (entries []entry, after, err error) {
	if !n.inflight {
		if err := n.send(rr, true); err != nil {
			return nil, nil, err
		}
	}
	n.sendErr = nil
	entries, ackErr, err := n.receive(rr, claimDue)
	if err != nil {
		return nil, nil, err
	}
	n.reads++
	if n.sendErr != nil {
		return entries, n.sendErr, nil
	}
	return entries, ackErr, nil
}

// readAhead is rawReplies.counted: a reply of COUNT entries means more
// are probably waiting, and the next read goes out before this reply is
// even parsed.
func (n *newEntries) readAhead(count int64) {
	if n.ahead && count >= int64(n.batchSize) {
		n.ahead = false
		n.sendErr = n.send(n.replies, false)
	}
}

// send writes an XREADGROUP of new entries, after an XACK of the entries
// written and not yet acknowledged (if any), in one write. Their replies
// are read by receive.
func (n *newEntries) send(rr *rawReplies, block bool) error {
	w, args := n.acks.appendXACK(n.wire[:0], n.args)
	args = append(args[:0], "GROUP", n.group, n.consumer, "COUNT", strconv.Itoa(n.count))
	if block {
		args = append(args, "BLOCK", strconv.FormatInt(n.block.Milliseconds(), 10))
	}
	args = append(args, "STREAMS", n.key, ">")
	w = redisconn.AppendCommand(w, "XREADGROUP", args...)
	n.wire, n.args = w, args
	if err := rr.conn.WriteRaw(w); err != nil {
		return err // maybe half written: the connection is dropped
	}
	n.acks.sent()
	n.inflight = true
	return nil
}

// receive reads the replies of what send wrote. An error reply to the
// XACK puts its IDs back to be acknowledged at the next step and is
// returned as ackErr once the read's reply was read too. Any other error
// leaves the connection out of step (it is dropped) with the IDs of the
// XACK back in unacked: written, not known to be acknowledged.
func (n *newEntries) receive(rr *rawReplies, claimDue bool) (entries []entry, ackErr, err error) {
	n.inflight = false
	if len(n.acks.acking) > 0 {
		ackErr = rr.ack()
		n.acks.settle(ackErr == nil)
		var re redis.Error
		if ackErr != nil && !errors.As(ackErr, &re) {
			return nil, nil, ackErr
		}
	}
	// The next read may go out from within readGroup (readAhead); not
	// after an XACK refused, which leaves its IDs to be sent on their own.
	n.ahead = n.overlap && ackErr == nil && !claimDue
	entries, err = rr.readGroup()
	n.ahead = false
	return entries, ackErr, err
}

// abandon forgets a read in flight on a connection that failed: its
// XACK's IDs go back to unacked, to be acknowledged on the next connection.
func (n *newEntries) abandon() {
	n.inflight = false
	n.acks.settle(false)
}
