package redis_consumer

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
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
	conn    *redisconn.Conn
	buf     []byte
	r, w    int
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
	return &rawReplies{conn: conn, buf: make([]byte, 64<<10)}
}

// errProtocol is a reply we did not expect: the connection is out of step.
type errProtocol string

func (e errProtocol) Error() string { return "reading a reply: " + string(e) }

// more reads at least one more byte. Bytes already handed out stay valid:
// a full buffer is replaced by a larger one, never moved within itself.
func (rr *rawReplies) more() error {
	if rr.w == len(rr.buf) {
		// Earlier parts of this reply may be in use: a new array, and the
		// next reply starts at the beginning of it.
		grown := make([]byte, max(2*len(rr.buf), 64<<10))
		rr.w = copy(grown, rr.buf[rr.r:rr.w])
		rr.buf, rr.r = grown, 0
	}
	n, err := rr.conn.ReadRaw(rr.buf[rr.w:])
	rr.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = errProtocol("no data")
	}
	return err
}

// begin starts a reply: what is left of the buffer moves to its start (no
// reply handed out earlier is still in use).
func (rr *rawReplies) begin() {
	if rr.r > 0 {
		rr.w = copy(rr.buf, rr.buf[rr.r:rr.w])
		rr.r = 0
	}
}

// header reads a reply line: its type byte and, for arrays, bulk strings
// and integers, its number; for errors, the message.
func (rr *rawReplies) header() (byte, int64, []byte, error) {
	for {
		if i := bytes.Index(rr.buf[rr.r:rr.w], []byte("\r\n")); i >= 0 {
			line := rr.buf[rr.r : rr.r+i]
			rr.r += i + 2
			if len(line) == 0 {
				return 0, 0, nil, errProtocol("empty line")
			}
			t := line[0]
			switch t {
			case '-', '+':
				return t, 0, line[1:], nil
			case '*', '$', ':':
				n, ok := parseLength(line[1:])
				if !ok {
					return 0, 0, nil, errProtocol(fmt.Sprintf("bad length %q", line))
				}
				return t, n, nil, nil
			}
			return 0, 0, nil, errProtocol(fmt.Sprintf("unexpected %q", logger.Head(line)))
		}
		if err := rr.more(); err != nil {
			return 0, 0, nil, err
		}
	}
}

// parseLength reads the number of a reply line: an optional minus sign
// and 1 to 18 digits (what strconv would take there, five times an entry,
// without the string it allocates).
func parseLength(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// array reads an array header; n < 0 is a nil array. An error reply is
// returned as a redis.Error, which leaves the connection in step.
func (rr *rawReplies) array() (int64, error) {
	t, n, msg, err := rr.header()
	switch {
	case err != nil:
		return 0, err
	case t == '-':
		return 0, redis.Error(msg)
	case t != '*':
		return 0, errProtocol(fmt.Sprintf("want an array, got %q", t))
	}
	return n, nil
}

// bulk reads a bulk string.
func (rr *rawReplies) bulk() ([]byte, error) {
	t, n, _, err := rr.header()
	if err != nil {
		return nil, err
	}
	if t != '$' || n < 0 {
		return nil, errProtocol(fmt.Sprintf("want a string, got %q %d", t, n))
	}
	for int64(rr.w-rr.r) < n+2 {
		if err := rr.more(); err != nil {
			return nil, err
		}
	}
	b := rr.buf[rr.r : rr.r+int(n) : rr.r+int(n)]
	rr.r += int(n) + 2
	return b, nil
}

// ack reads the reply of XACK.
func (rr *rawReplies) ack() error {
	rr.begin()
	t, _, msg, err := rr.header()
	switch {
	case err != nil:
		return err
	case t == '-':
		return redis.Error(msg)
	case t != ':':
		return errProtocol(fmt.Sprintf("XACK: want an integer, got %q", t))
	}
	return nil
}

// readGroup reads the reply of XREADGROUP for one stream: nil when BLOCK
// ran out, else [[key, [[id, [field, value, ...]], ...]]]. An entry
// deleted from the stream while pending has nil fields.
func (rr *rawReplies) readGroup() ([]entry, error) {
	rr.begin()
	rr.entries, rr.fields, rr.ids, rr.idEnds = rr.entries[:0], rr.fields[:0], rr.ids[:0], rr.idEnds[:0]
	if rr.fields == nil {
		rr.fields = make([][]byte, 0, 1024)
	}
	streams, err := rr.array()
	if err != nil || streams <= 0 {
		return nil, err
	}
	for ; streams > 0; streams-- {
		if n, err := rr.array(); err != nil || n != 2 {
			return nil, orProtocol(err, "XREADGROUP reply: not [key, entries]")
		}
		if _, err := rr.bulk(); err != nil {
			return nil, err
		}
		n, err := rr.array()
		if err != nil {
			return nil, err
		}
		if rr.counted != nil {
			rr.counted(n)
		}
		for ; n > 0; n-- {
			if parts, err := rr.array(); err != nil || parts != 2 {
				return nil, orProtocol(err, "XREADGROUP reply: entry not [id, fields]")
			}
			id, err := rr.bulk()
			if err != nil {
				return nil, err
			}
			rr.ids = append(rr.ids, id...)
			rr.idEnds = append(rr.idEnds, len(rr.ids))
			k, err := rr.array()
			if err != nil {
				return nil, err
			}
			var fields [][]byte // nil: deleted from the stream
			if k >= 0 {
				from := len(rr.fields)
				for ; k > 0; k-- {
					f, err := rr.bulk()
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
	return errProtocol(msg)
}
