package redis_consumer

import (
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// New entries (XREADGROUP ">"): through redigo on a Redis Cluster; on a
// single server on our own RESP path, each read sent with the XACK of
// the batch before, and the next read sent ahead while a full batch is
// written.

// rawReplies returns our reply reader for c, or nil where replies are read
// with redigo (a Redis Cluster connection).
func (s *streamReader) rawReplies(c redis.Conn) *rawReplies {
	rc, ok := c.(*redisconn.Conn)
	if !ok || !rc.CanWriteRaw() {
		return nil
	}
	if s.replies == nil || s.replies.conn != rc {
		s.replies = newRawReplies(rc)
		s.replies.counted = s.readAhead
	}
	return s.replies
}

// readNewEntries waits up to `block` for entries never delivered. The
// reply must come within the connection's read timeout, `timeout`, which
// Init keeps longer than block.
func (s *streamReader) readNewEntries(c redis.Conn, rr *rawReplies) error {
	if rr != nil {
		return s.readNewRaw(c, rr)
	}
	reply, err := c.Do("XREADGROUP", "GROUP", s.p.Group, s.p.Consumer, "COUNT", s.count(),
		"BLOCK", time.Duration(s.p.Block).Milliseconds(), "STREAMS", s.p.Key, ">")
	if err != nil {
		return err
	}
	s.newReads++
	entries, err := readGroupEntries(reply)
	if err != nil {
		return err
	}
	return s.process(c, entries)
}

// readNewRaw is readNewEntries on our own RESP path: the XACK of what was
// written last (if any) and XREADGROUP in one write, then both replies.
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
func (s *streamReader) readNewRaw(c redis.Conn, rr *rawReplies) error {
	if !s.inflight {
		if err := s.sendRead(rr, true); err != nil {
			return err
		}
	}
	s.sendErr = nil
	entries, ackErr, err := s.receiveRead(rr)
	if err != nil {
		return err
	}
	s.newReads++
	if err := s.process(c, entries); err != nil {
		return err
	}
	// A failed write of the next read drops the connection, but the batch
	// in hand was still written (and is acknowledged on the next one).
	if s.sendErr != nil {
		return s.sendErr
	}
	return ackErr // a redis.Error: the connection stays
}

// readAhead is rawReplies.counted: a reply of COUNT entries means more
// are probably waiting, and the next read goes out before this reply is
// even parsed.
func (s *streamReader) readAhead(n int64) {
	if s.ahead && n >= int64(s.p.BatchSize) {
		s.ahead = false
		s.sendErr = s.sendRead(s.replies, false)
	}
}

// sendRead writes an XREADGROUP of new entries, after an XACK of the
// entries written and not yet acknowledged (if any), in one write. Their
// replies are read by receiveRead.
func (s *streamReader) sendRead(rr *rawReplies, block bool) error {
	w := s.wire[:0]
	if len(s.unacked) > 0 {
		s.args = append(append(s.args[:0], s.p.Key, s.p.Group), s.unacked...)
		w = redisconn.AppendCommand(w, "XACK", s.args...)
	}
	s.args = append(s.args[:0], "GROUP", s.p.Group, s.p.Consumer, "COUNT", strconv.Itoa(s.count()))
	if block {
		s.args = append(s.args, "BLOCK", strconv.FormatInt(time.Duration(s.p.Block).Milliseconds(), 10))
	}
	s.args = append(s.args, "STREAMS", s.p.Key, ">")
	w = redisconn.AppendCommand(w, "XREADGROUP", s.args...)
	s.wire = w
	if err := rr.conn.WriteRaw(w); err != nil {
		return err // maybe half written: the connection is dropped
	}
	// The IDs in that XACK move aside, so that the entries of the batch
	// in hand gather in unacked meanwhile.
	s.acking, s.unacked = s.unacked, s.acking[:0]
	s.inflight = true
	return nil
}

// receiveRead reads the replies of what sendRead wrote. An error reply to
// the XACK puts its IDs back to be acknowledged at the next step and is
// returned as ackErr once the read's reply was read too. Any other error
// leaves the connection out of step (it is dropped) with the IDs of the
// XACK back in unacked: written, not known to be acknowledged.
func (s *streamReader) receiveRead(rr *rawReplies) (entries []entry, ackErr, err error) {
	s.inflight = false
	if len(s.acking) > 0 {
		ackErr = rr.ack()
		_, isReply := ackErr.(redis.Error)
		if ackErr != nil {
			s.unacked = append(s.unacked, s.acking...)
		}
		s.acking = s.acking[:0]
		if ackErr != nil && !isReply {
			return nil, nil, ackErr
		}
	}
	// The next read may go out from within readGroup (readAhead); not
	// after an XACK refused, which leaves its IDs to be sent on their own.
	s.ahead = s.overlap && ackErr == nil && !s.claimDue()
	entries, err = rr.readGroup()
	s.ahead = false
	return entries, ackErr, err
}

// abandonRead forgets a read in flight on a connection that failed: its
// XACK's IDs go back to unacked, to be acknowledged on the next connection
// (XACK of an ID already acknowledged does nothing).
func (s *streamReader) abandonRead() {
	s.inflight = false
	s.unacked = append(s.unacked, s.acking...)
	s.acking = s.acking[:0]
}
