package redis_consumer

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricpairs"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// maxKept bounds the memory of entries kept after a parse error that were
// already logged; past it the set starts again (and they are logged again).
const maxKept = 100000

// streamReader is stream mode: a consumer in a consumer group. Each batch
// of entries is written to stdout, and only once the write returned are
// the entries acknowledged: at least once, never acked before written.
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

	needGroup   bool
	pendingFrom string   // re-read own pending entries after this ID; "" when done
	unacked     []string // written to stdout, XACK not yet confirmed
	kept        map[string]bool
	claimCursor string
	nextClaim   time.Time
	newReads    int // reads of new entries done, for -once and outages
	buf         []byte

	// groupLost: a command found the group gone (NOGROUP); keyGone: the
	// stream too (UNBLOCKED). lastRead is the highest entry ID the group
	// delivered to us (readAny: there is one): see recreateGroup.
	groupLost bool
	keyGone   bool
	lastRead  entryID
	readAny   bool

	// On a single server (not a Cluster) new entries are read with our
	// own RESP reader, and the XACK of a batch goes out with the next
	// read, in one write.
	replies *rawReplies
	wire    []byte
	args    []string
	// inflight: an XREADGROUP was sent on replies.conn and its reply (and
	// that of the XACK of acking before it) is still to be read: nothing
	// else may be sent or read on that connection before.
	inflight bool
	acking   []string
	// overlap allows sending the next read before a full batch is
	// written; off with -once, in the built-in mode and once stopping.
	// ahead is overlap for the reply being read; sendErr the failure to
	// send the next read.
	overlap bool
	ahead   bool
	sendErr error
	rewrite *lineprotocol.Rewriter   // data_format = "influx" payloads, nil otherwise
	flat    *metricpairs.FlatWriter  // entries in the flat layout, without payload_field
	typed   *metricpairs.TypedWriter // entries in the typed layout, without payload_field

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
		p:           p,
		out:         out,
		outage:      outage,
		client:      client,
		kept:        map[string]bool{},
		claimCursor: "0-0",
	}
	if p.PayloadField != "" && p.DataFormat == "influx" {
		// Init has checked the precision with Telegraf's parser.
		s.rewrite, _ = lineprotocol.NewRewriter(time.Duration(p.parserOptions.influxParser.InfluxTimestampPrecision))
	}
	if p.PayloadField == "" {
		s.flat = metricpairs.NewFlatWriter(p.Measurement, p.tagFilter)
		s.typed = metricpairs.NewTypedWriter(p.tagFilter)
	}
	s.shareTrims(out)
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
	for (ctx.Err() == nil || s.inflight) && !(once && s.newReads > 0) {
		s.overlap = !once && s.track == nil && ctx.Err() == nil
		reads := s.newReads
		err := s.step()
		if err == nil {
			// Only a read of new entries shows the whole cycle works
			// again; the re-read of pending entries that follows every
			// reconnection may succeed while a later command fails.
			if s.newReads > reads {
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
	if len(s.unacked) > 0 {
		return fmt.Sprintf("%d entries written to stdout wait for XACK, new entries wait in the stream", len(s.unacked))
	}
	return "entries wait in the stream"
}

// finish tries once more to acknowledge what was written, so that a stop
// during an outage does not deliver it twice.
func (s *streamReader) finish() {
	if s.track != nil {
		s.takeDelivered()
	}
	if len(s.unacked) == 0 {
		return
	}
	n := len(s.unacked)
	if err := s.client.Run(func(c redis.Conn) error { return s.ack(c) }); err != nil {
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
		s.conn, s.needGroup, s.pendingFrom = conn, true, "0"
		s.abandonRead()
	}
	err = s.stepOn(conn)
	if isStdout(err) {
		return err
	}
	if _, isReply := err.(redis.Error); err != nil && !isReply {
		s.abandonRead() // the connection is dropped, with any reply in flight
	}
	if !s.inflight {
		err = redisconn.WrongType(conn, err, s.p.Key, "stream") // asks TYPE on conn
	}
	s.client.Check(err)
	return err
}

func (s *streamReader) stepOn(c redis.Conn) error {
	if s.track != nil && !s.inflight {
		// May ask for the pending list again, or to wait for Telegraf.
		if wait, until := s.takeDelivered(); wait {
			if err := s.ack(c); err != nil { // what was delivered meanwhile
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
	case s.inflight: // its reply comes first
	case s.pendingFrom != "":
		action = readPending
	case s.claimDue():
		action = claim
	}
	rr := s.rawReplies(c)
	// The XACK left from the last batch goes out with the read of new
	// entries, in one write; before anything else, on its own.
	if len(s.unacked) > 0 && (rr == nil || action != readNew || s.needGroup) {
		if err := s.ack(c); err != nil {
			return err
		}
	}
	if s.needGroup {
		if err := s.createGroup(c); err != nil {
			return err
		}
	}
	var err error
	switch action {
	case readPending:
		err = s.readPending(c)
	case claim:
		err = s.claim(c)
	default:
		err = s.readNewEntries(c, rr)
	}
	// NOGROUP: the group is gone, or the key. UNBLOCKED: the key was
	// deleted (or CLIENT UNBLOCK) while we waited in XREADGROUP (Redis 7).
	// The group is created again at the next step (createGroup says why
	// and where), and the claim pass starts again.
	if re, ok := err.(redis.Error); ok {
		switch msg := string(re); {
		case strings.HasPrefix(msg, "NOGROUP"):
			s.groupLost = true
		case strings.HasPrefix(msg, "UNBLOCKED") && strings.Contains(msg, "no longer exists"):
			s.groupLost, s.keyGone = true, true
		case strings.HasPrefix(msg, "UNBLOCKED"):
		default:
			return err
		}
		s.needGroup, s.pendingFrom, s.claimCursor = true, "0", "0-0"
		return nil
	}
	return err
}

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

// claimDue says whether it is time for a page of XAUTOCLAIM.
func (s *streamReader) claimDue() bool {
	return s.p.ClaimIdle > 0 && !time.Now().Before(s.nextClaim)
}

// abandonRead forgets a read in flight on a connection that failed: its
// XACK's IDs go back to unacked, to be acknowledged on the next connection
// (XACK of an ID already acknowledged does nothing).
func (s *streamReader) abandonRead() {
	s.inflight = false
	s.unacked = append(s.unacked, s.acking...)
	s.acking = s.acking[:0]
}

// process writes the metrics of a batch to stdout in one write and then
// acknowledges, in one XACK, the entries written, the entries deleted
// from the stream meanwhile and, with on_parse_error = "ack", bad ones.
// On our own RESP path that XACK goes out with the next read.
func (s *streamReader) process(c redis.Conn, entries []entry) error {
	if len(entries) == 0 {
		return nil
	}
	s.noteRead(entries)
	if s.track != nil {
		return s.handOver(c, entries)
	}
	buf := s.buf[:0]
	ack := s.unacked // entries still to acknowledge from before stay first
	for _, e := range entries {
		if e.fields == nil { // deleted from the stream: nothing to deliver
			ack = append(ack, e.id)
			continue
		}
		var err error
		if buf, err = s.convert(buf, e); err != nil && !s.badEntry(e, err) {
			continue
		}
		ack = append(ack, e.id)
	}
	s.buf = buf
	if err := s.out.write(buf); err != nil {
		return err // not written: not acknowledged, delivered again later
	}
	s.unacked = ack
	if s.rawReplies(c) != nil {
		return nil // acknowledged with the next read
	}
	return s.ack(c)
}

// ack acknowledges the entries written and not yet acknowledged; on
// failure they are kept to be acknowledged first at the next step.
func (s *streamReader) ack(c redis.Conn) error {
	if len(s.unacked) == 0 {
		return nil
	}
	if _, err := c.Do("XACK", redis.Args{s.p.Key, s.p.Group}.AddFlat(s.unacked)...); err != nil {
		return err
	}
	s.unacked = s.unacked[:0]
	return nil
}

// convert appends the line protocol of one entry to buf; on error buf is
// returned as it was. Without payload_field the entry's pairs are the
// metric: in the typed layout with its own name and time, in the flat one
// named measurement and timed by the entry ID (when Redis added it). Both
// are written straight from the reply (package metricpairs), and a
// line protocol payload is rewritten to Telegraf's line protocol directly;
// only other payloads, and typed entries that break the layout (to name
// what is wrong), go through a telegraf.Metric and the serializer.
func (s *streamReader) convert(buf []byte, e entry) ([]byte, error) {
	if s.rewrite != nil {
		t, err := e.time()
		if err != nil {
			return buf, err
		}
		payload, ok := e.field(s.p.PayloadField)
		if !ok {
			return buf, fmt.Errorf("no field %q", s.p.PayloadField)
		}
		return s.rewrite.Rewrite(buf, payload, t)
	}
	if s.flat != nil {
		t, err := e.time()
		if err != nil {
			return buf, err
		}
		if !metricpairs.Typed(e.fields) {
			return s.flat.Append(buf, e.fields, t)
		}
		if out, ok := s.typed.Append(buf, e.fields, t); ok {
			return out, nil
		}
	}
	ms, err := s.metrics(e)
	if err != nil {
		return buf, err
	}
	return s.out.serialize(buf, ms)
}

// metrics are the metrics of one entry.
func (s *streamReader) metrics(e entry) ([]telegraf.Metric, error) {
	t, err := e.time()
	if err != nil {
		return nil, err
	}
	if s.p.PayloadField == "" {
		m, err := s.p.pairsMetric(e.pairs(), nil, t)
		if err != nil {
			return nil, err
		}
		return []telegraf.Metric{m}, nil
	}
	payload, ok := e.field(s.p.PayloadField)
	if !ok {
		return nil, fmt.Errorf("no field %q", s.p.PayloadField)
	}
	return s.p.parser.Parse(payload, t)
}

// pairs is the entry's field names and values, flat (name, value, ...):
// the one place convert reads the entry's representation.
func (e entry) pairs() [][]byte { return e.fields }

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
