package redis_consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// entry is one stream entry as XREADGROUP and XAUTOCLAIM return it.
type entry struct {
	id string
	// fields are name, value, name, value, ...; nil when the entry is in
	// the pending list but was deleted from the stream (XDEL, XTRIM).
	fields [][]byte
}

// time is the entry ID's milliseconds: when Redis added it.
func (e entry) time() (time.Time, error) {
	ms, _, _ := strings.Cut(e.id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("entry ID %q: %v", e.id, err)
	}
	return time.UnixMilli(n), nil
}

// field returns the value of the first field called name.
func (e entry) field(name string) ([]byte, bool) {
	for i := 0; i+1 < len(e.fields); i += 2 {
		if string(e.fields[i]) == name {
			return e.fields[i+1], true
		}
	}
	return nil, false
}

// text is the entry's fields as name=value pairs, for log lines.
func (e entry) text() []byte {
	var b bytes.Buffer
	for i := 0; i+1 < len(e.fields); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.Write(e.fields[i])
		b.WriteByte('=')
		b.Write(e.fields[i+1])
	}
	return b.Bytes()
}

// parseEntries reads an array of [id, [field, value, ...]].
func parseEntries(reply any) ([]entry, error) {
	items, err := redis.Values(reply, nil)
	if err != nil {
		return nil, err
	}
	entries := make([]entry, 0, len(items))
	for _, item := range items {
		parts, err := redis.Values(item, nil)
		if err != nil || len(parts) != 2 {
			return nil, fmt.Errorf("unexpected stream entry %v", item)
		}
		id, err := redis.String(parts[0], nil)
		if err != nil {
			return nil, fmt.Errorf("stream entry ID: %w", err)
		}
		e := entry{id: id}
		if parts[1] != nil {
			if e.fields, err = redis.ByteSlices(parts[1], nil); err != nil {
				return nil, fmt.Errorf("stream entry %s: %w", id, err)
			}
			if e.fields == nil {
				e.fields = [][]byte{} // present, without fields
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// readGroupEntries reads an XREADGROUP reply for one stream: nil when
// BLOCK ran out, else [[key, entries]].
func readGroupEntries(reply any) ([]entry, error) {
	if reply == nil {
		return nil, nil
	}
	streams, err := redis.Values(reply, nil)
	if err != nil {
		return nil, fmt.Errorf("XREADGROUP reply: %w", err)
	}
	var entries []entry
	for _, s := range streams {
		kv, err := redis.Values(s, nil)
		if err != nil || len(kv) != 2 {
			return nil, errors.New("XREADGROUP reply: not [key, entries]")
		}
		got, err := parseEntries(kv[1])
		if err != nil {
			return nil, fmt.Errorf("XREADGROUP reply: %w", err)
		}
		entries = append(entries, got...)
	}
	return entries, nil
}

// autoclaimEntries reads an XAUTOCLAIM reply: [next cursor, entries] and,
// from Redis 7, the IDs of pending entries no longer in the stream (Redis
// drops them from the pending list itself).
func autoclaimEntries(reply any) (cursor string, entries []entry, deleted int, err error) {
	parts, err := redis.Values(reply, nil)
	if err != nil || len(parts) < 2 {
		return "", nil, 0, fmt.Errorf("XAUTOCLAIM reply: not [cursor, entries, ...] (%v)", err)
	}
	if cursor, err = redis.String(parts[0], nil); err != nil {
		return "", nil, 0, fmt.Errorf("XAUTOCLAIM cursor: %w", err)
	}
	if entries, err = parseEntries(parts[1]); err != nil {
		return "", nil, 0, fmt.Errorf("XAUTOCLAIM reply: %w", err)
	}
	if len(parts) > 2 {
		ids, _ := redis.Values(parts[2], nil)
		deleted = len(ids)
	}
	return cursor, entries, deleted, nil
}

// rawReplies reads the replies of XREADGROUP and XACK straight from the
// connection (RESP2), where redigo would allocate a value for every field
// of every entry. The entries it returns point into its read buffer: they
// are valid until the next read. Their IDs share one string per reply.
// It belongs to one connection; a read error leaves it out of step, and the
// connection must be dropped (redisconn.Client.Check does, for any error
// that is not a Redis error reply).
type rawReplies struct {
	*redisconn.Replies
	conn    *redisconn.Conn
	entries []entry
	fields  [][]byte
	ids     []byte
	idEnds  []int
	// counted, if set, is called by readGroup with the number of entries
	// of a reply as soon as it is known, before they are read: the stream
	// reader sends its next read from there. Entries already read stay
	// valid (the buffer is never moved under them), and bytes of the next
	// reply read along stay in the buffer for the next readGroup.
	counted func(n int64)
}

func newRawReplies(conn *redisconn.Conn) *rawReplies {
	return &rawReplies{Replies: conn.Replies(), conn: conn}
}

// Reads wait for the connection's read timeout only.
var noCancel = context.Background()

// ack reads the reply of XACK.
func (rr *rawReplies) ack() error {
	rr.Begin()
	t, _, msg, err := rr.Header(noCancel)
	switch {
	case err != nil:
		return err
	case t == '-':
		return redis.Error(msg)
	case t != ':':
		return redisconn.ErrProtocol(fmt.Sprintf("XACK: want an integer, got %q", t))
	}
	return nil
}

// readGroup reads the reply of XREADGROUP for one stream: nil when BLOCK
// ran out, else [[key, [[id, [field, value, ...]], ...]]]. An entry
// deleted from the stream while pending has nil fields.
func (rr *rawReplies) readGroup() ([]entry, error) {
	rr.Begin()
	rr.entries, rr.fields, rr.ids, rr.idEnds = rr.entries[:0], rr.fields[:0], rr.ids[:0], rr.idEnds[:0]
	if rr.fields == nil {
		rr.fields = make([][]byte, 0, 1024)
	}
	streams, err := rr.Array(noCancel)
	if err != nil || streams <= 0 {
		return nil, err
	}
	for ; streams > 0; streams-- {
		if n, err := rr.Array(noCancel); err != nil || n != 2 {
			return nil, orProtocol(err, "XREADGROUP reply: not [key, entries]")
		}
		if _, err := rr.Bulk(noCancel); err != nil {
			return nil, err
		}
		n, err := rr.Array(noCancel)
		if err != nil {
			return nil, err
		}
		if rr.counted != nil {
			rr.counted(n)
		}
		for ; n > 0; n-- {
			if parts, err := rr.Array(noCancel); err != nil || parts != 2 {
				return nil, orProtocol(err, "XREADGROUP reply: entry not [id, fields]")
			}
			id, err := rr.Bulk(noCancel)
			if err != nil {
				return nil, err
			}
			rr.ids = append(rr.ids, id...)
			rr.idEnds = append(rr.idEnds, len(rr.ids))
			k, err := rr.Array(noCancel)
			if err != nil {
				return nil, err
			}
			var fields [][]byte // nil: deleted from the stream
			if k >= 0 {
				from := len(rr.fields)
				for ; k > 0; k-- {
					f, err := rr.Bulk(noCancel)
					if err != nil {
						return nil, err
					}
					rr.fields = append(rr.fields, f)
				}
				fields = rr.fields[from:len(rr.fields):len(rr.fields)]
			}
			rr.entries = append(rr.entries, entry{fields: fields})
		}
	}
	ids, from := string(rr.ids), 0
	for i, end := range rr.idEnds {
		rr.entries[i].id = ids[from:end]
		from = end
	}
	return rr.entries, nil
}

func orProtocol(err error, msg string) error {
	if err != nil {
		return err
	}
	return redisconn.ErrProtocol(msg)
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
