package redis_consumer

import (
	"context"
	"fmt"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

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
	h, err := rr.Header(noCancel)
	switch {
	case err != nil:
		return err
	case h.Type == '-':
		return redis.Error(h.Text)
	case h.Type != ':':
		return redisconn.ProtocolError(fmt.Sprintf("XACK: want an integer, got %q", h.Type))
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
			return nil, orProtocol(err, "reading the reply to XREADGROUP: not [key, entries]")
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
				return nil, orProtocol(err, "reading the reply to XREADGROUP: entry not [id, fields]")
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
	return redisconn.ProtocolError(msg)
}
