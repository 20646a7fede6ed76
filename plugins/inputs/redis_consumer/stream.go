package redis_consumer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// streamReader is stream mode: a consumer in a consumer group. Each batch
// of entries is written to stdout, and only once the write returned are
// the entries acknowledged: at least once, never acked before written.
// Its read loop (this file) asks the roles below for entries, in this
// order: own pending entries (stream_pending.go), claims of other
// consumers' (the same), new entries (stream_new.go); the group is made
// first where needed (stream_group.go), and the entries written are
// acknowledged through acks (stream_ack.go).
type streamReader struct {
	p      *RedisConsumer
	out    *output
	client *redisconn.Client
	outage *redisconn.Outage
	// conn is the connection of the last step. A different one means the
	// old one failed, maybe with a reply we never read: entries it
	// delivered sit in our pending list, so that list is read again. (The
	// old value stays referenced here, so a new connection can never get
	// its address.)
	conn redis.Conn

	group   group
	pending pendingList
	fresh   newEntries
	acks    acks
	kept    map[string]bool // entries left pending after a parse error, logged
	buf     []byte

	conv *entryConverter

	// track, built into Telegraf: entries are handed to Telegraf and
	// acknowledged once it delivered them, at the pace it delivers
	// (stream_tracking.go).
	track *tracker
	pace  pace
}

func newStreamReader(p *RedisConsumer, out *output, outage *redisconn.Outage) *streamReader {
	client := redisconn.NewClient(&p.Config, clientName)
	client.BindKey = p.Key // in a Redis Cluster: the stream's node
	s := &streamReader{
		p:       p,
		out:     out,
		outage:  outage,
		client:  client,
		group:   group{key: p.Key, name: p.Group, startID: p.StartID, log: p.Log},
		pending: pendingList{key: p.Key, group: p.Group, consumer: p.Consumer, claimIdle: time.Duration(p.ClaimIdle), log: p.Log, claimCursor: "0-0"},
		acks:    acks{key: p.Key, group: p.Group},
		kept:    make(map[string]bool),
	}
	s.fresh = newEntries{key: p.Key, group: p.Group, consumer: p.Consumer, block: time.Duration(p.Block), batchSize: p.BatchSize, acks: &s.acks}
	s.conv = newEntryConverter(entryFormat{
		payloadField: p.PayloadField,
		measurement:  p.Measurement,
		tagFilter:    p.tagFilter,
		parser:       p.parser,
		precision:    p.parser.precision(),
		lineProtocol: p.parser != nil && p.parser.influx != nil,
	}, out)
	s.conv.idTag = p.EntryIDTag
	return s
}

// run reads until ctx is done. Stdin lines do not matter here: the loop
// runs on its own, and a stop waits for the batch in hand (at most a
// `block` long read, its write and its XACK).
func (s *streamReader) run(ctx context.Context, once bool) error {
	defer s.client.Close()
	s.p.Log.Debugf("reading stream %q as consumer %q of group %q at %s", s.p.Key, s.p.Consumer, s.p.Group, s.p.Endpoint())
	backoff := redisconn.NewBackoff()
	// A stop waits for a read in flight too: its entries are delivered to
	// us already, and are written and acknowledged rather than left
	// pending.
	for (ctx.Err() == nil || s.fresh.inflight) && !(once && s.fresh.reads > 0) {
		s.fresh.overlap = !once && s.track == nil && ctx.Err() == nil
		reads := s.fresh.reads
		err := s.step()
		if err == nil {
			// Only a read of new entries shows the whole cycle works
			// again; the re-read of pending entries that follows every
			// reconnection may succeed while a later command fails.
			if s.fresh.reads > reads {
				s.outage.Succeeded()
				backoff.Reset()
			}
			continue
		}
		if isStdout(err) || once {
			return err
		}
		s.outage.Failed(err, s.held())
		select {
		case <-ctx.Done():
		case <-time.After(backoff.Next()):
		}
	}
	s.finish()
	return nil
}

func (s *streamReader) held() string {
	if len(s.acks.unacked) > 0 {
		return fmt.Sprintf("%d entries written to stdout wait for XACK, new entries wait in the stream", len(s.acks.unacked))
	}
	return "entries wait in the stream"
}

// finish tries once more to acknowledge what was written, so that a stop
// during an outage does not deliver it twice.
func (s *streamReader) finish() {
	if s.track != nil {
		s.pace.take(s.track, &s.acks, &s.pending)
	}
	if len(s.acks.unacked) == 0 {
		return
	}
	n := len(s.acks.unacked)
	if err := s.client.Run(func(c redis.Conn) error { return s.acks.ack(c) }); err != nil {
		s.p.Log.Warnf("stopping with %d entries written but not acknowledged (%v): they will be delivered again", n, err)
	}
}

// step is one round: the XACK left from a failure and the group, when
// needed, then one read: a page of own pending entries, a page of claimed
// entries, or new entries.
func (s *streamReader) step() error {
	conn, err := s.client.Conn()
	if err != nil {
		return err
	}
	if conn != s.conn {
		s.conn, s.group.need, s.pending.from = conn, true, "0"
		s.fresh.abandon()
	}
	err = s.stepOn(conn)
	if isStdout(err) {
		return err
	}
	var reply redis.Error
	if err != nil && !errors.As(err, &reply) {
		s.fresh.abandon() // the connection is dropped, with any reply in flight
	}
	if !s.fresh.inflight {
		err = redisconn.WrongType(conn, err, s.p.Key, "stream") // asks TYPE on conn
	}
	s.client.Check(err)
	return err
}

func (s *streamReader) stepOn(c redis.Conn) error {
	if s.track != nil && !s.fresh.inflight {
		// May ask for the pending list again, or to wait for Telegraf.
		if wait, until := s.pace.take(s.track, &s.acks, &s.pending); wait {
			if err := s.acks.ack(c); err != nil { // what was delivered meanwhile
				return err
			}
			s.track.wait(until)
			return nil
		}
	}
	const (
		readPending = iota
		claim
		readNew
	)
	action := readNew
	switch {
	case s.fresh.inflight: // its reply comes first
	case s.pending.from != "":
		action = readPending
	case s.pending.claimDue():
		action = claim
	}
	rr := s.fresh.rawReplies(c)
	// The XACK left from the last batch goes out with the read of new
	// entries, in one write; before anything else, on its own.
	if len(s.acks.unacked) > 0 && (rr == nil || action != readNew || s.group.need) {
		if err := s.acks.ack(c); err != nil {
			return err
		}
	}
	if s.group.need {
		low, ok := s.undelivered()
		if err := s.group.create(c, low, ok); err != nil {
			return err
		}
	}
	var entries []entry
	var after, err error
	switch action {
	case readPending:
		entries, err = s.readPending(c)
	case claim:
		entries, err = s.pending.claim(c, s.count(), s.kept)
		err = s.claimRefused(err)
	default:
		s.fresh.count = s.count()
		entries, after, err = s.fresh.read(c, rr, s.pending.claimDue())
	}
	if err == nil && len(entries) > 0 {
		s.group.noteRead(entries)
		err = s.process(c, entries)
	}
	if err == nil {
		err = after // the batch in hand is written
	}
	if s.group.lostIn(err) {
		s.pending.restart() // so does the claim pass
		return nil
	}
	return err
}

// claimRefused words the refusal of XAUTOCLAIM by a server without it
// (before Redis 6.2, or renamed away) as the setting it cannot honour.
// The first claim is the first step after connecting: nothing new is read
// before claims work or claim_idle is 0.
func (s *streamReader) claimRefused(err error) error {
	if name, ok := redisconn.UnknownCommand(err); ok && strings.EqualFold(name, "XAUTOCLAIM") {
		return redisconn.NewConfigError(s.p.Options.Where("claim_idle") + "option claim_idle: this server has no XAUTOCLAIM " +
			"(Redis 6.2 or newer has it, unless it is renamed away), which takes over the entries of consumers that died; " +
			`set claim_idle = "0s" to read without, or use a server that has it`)
	}
	return err
}

// readPending reads a page of own pending entries.
func (s *streamReader) readPending(c redis.Conn) ([]entry, error) {
	entries, passDone, err := s.pending.read(c, s.count())
	if passDone && s.track != nil {
		// Rejected entries it did not find are no longer ours.
		clear(s.pace.waiting)
	}
	return entries, err
}

// count is the COUNT of the next read: batch_size, or less when Telegraf
// may take fewer entries.
func (s *streamReader) count() int {
	if s.track == nil {
		return s.p.BatchSize
	}
	return max(1, min(s.p.BatchSize, s.pace.limit-s.track.held()))
}

// undelivered is the lowest ID among the entries Telegraf holds or did
// not deliver: where a consumer group created again must start for none
// of them to be lost.
func (s *streamReader) undelivered() (entryID, bool) {
	if s.track == nil {
		return entryID{}, false
	}
	return s.pace.undelivered(s.track)
}

// process writes the metrics of a batch to stdout in one write and then
// acknowledges, in one XACK, the entries written, the entries deleted
// from the stream meanwhile and, with on_parse_error = "ack", bad ones.
// On our own RESP path that XACK goes out with the next read.
func (s *streamReader) process(c redis.Conn, entries []entry) error {
	if len(entries) == 0 {
		return nil
	}
	if s.track != nil {
		return s.handOver(c, entries)
	}
	buf := s.buf[:0]
	ack := s.acks.unacked // entries still to acknowledge from before stay first
	for _, e := range entries {
		if e.fields == nil { // deleted from the stream: nothing to deliver
			ack = append(ack, e.id)
			continue
		}
		var err error
		if buf, err = s.conv.convert(buf, e); err != nil && !s.badEntry(e, err) {
			continue
		}
		ack = append(ack, e.id)
	}
	s.buf = buf
	if err := s.out.write(buf); err != nil {
		return err // not written: not acknowledged, delivered again later
	}
	s.acks.unacked = ack
	if s.fresh.rawReplies(c) != nil {
		return nil // acknowledged with the next read
	}
	return s.acks.ack(c)
}

// handOver is process built in: the metrics of each entry go to Telegraf
// as one group; deleted entries, entries without metrics and bad ones
// with on_parse_error = "ack" are acknowledged at once, as in process.
func (s *streamReader) handOver(c redis.Conn, entries []entry) error {
	for _, e := range entries {
		if s.track.holds(e.id) {
			continue // read again from the pending list while Telegraf has it
		}
		delete(s.pace.waiting, e.id)
		if e.fields == nil {
			s.acks.unacked = append(s.acks.unacked, e.id)
			continue
		}
		ms, err := s.conv.metrics(e)
		if err != nil {
			if s.badEntry(e, err) {
				s.acks.unacked = append(s.acks.unacked, e.id)
			}
			continue
		}
		if len(ms) == 0 {
			s.acks.unacked = append(s.acks.unacked, e.id) // nothing to deliver
			continue
		}
		// Held until Telegraf reports the group: a copy, not a slice of
		// the whole reply it was read from.
		s.track.add(ms, strings.Clone(e.id))
	}
	return s.acks.ack(c)
}

// badEntry reports an entry that gives no metric and says whether to
// acknowledge it (on_parse_error = "ack"). A kept entry comes back (on a
// restart, when claimed); it is logged once per process.
func (s *streamReader) badEntry(e entry, err error) bool {
	data := e.text()
	if payload, ok := e.field(s.p.PayloadField); ok && s.p.PayloadField != "" {
		data = payload
	}
	if s.p.OnParseError == "ack" {
		s.p.Log.Errorf("stream %q entry %s: %v: %q; acknowledged, it will not be delivered again", s.p.Key, e.id, err, logger.Head(data))
		return true
	}
	if s.kept[e.id] {
		s.p.Log.Debugf("stream %q entry %s still unreadable, left pending: %v", s.p.Key, e.id, err)
		return false
	}
	if len(s.kept) >= maxKept {
		clear(s.kept)
	}
	s.kept[strings.Clone(e.id)] = true // the ID may share its memory with a whole reply
	s.p.Log.Errorf("stream %q entry %s: %v: %q; left pending (on_parse_error = \"keep\")", s.p.Key, e.id, err, logger.Head(data))
	return false
}
