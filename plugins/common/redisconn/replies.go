package redisconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"
)

// Replies reads RESP2 replies straight from a connection whose commands
// were written with WriteRaw, for callers that read thousands of replies
// a batch: redigo's Receive sets a read deadline, and with a context
// starts a goroutine, for every reply, and boxes each one in an interface.
// Here one read of the socket serves every reply it holds.
//
// A Replies belongs to one connection (Conn.Replies). A read or protocol
// error leaves it out of step with the server, and the connection must be
// dropped (Client.Check does so for any error that is not a reply).
type Replies struct {
	conn *Conn
	buf  []byte
	r, w int
	// held is set while parts of a reply (Bulk) may still be in use: a
	// full buffer then grows instead of moving them.
	held bool
}

// Replies returns the connection's reply reader, made on first use.
// Only read with it while redigo waits for no reply of its own.
func (c *Conn) Replies() *Replies {
	if c.replies == nil {
		c.replies = NewReplies(c, 64<<10)
	}
	return c.replies
}

// NewReplies returns a reply reader of its own for c, starting with a
// buffer of size bytes (it grows for larger replies).
func NewReplies(c *Conn, size int) *Replies {
	return &Replies{conn: c, buf: make([]byte, max(size, 16))}
}

// ProtocolError is a reply the reader did not expect: the connection is
// out of step and must be dropped.
type ProtocolError string

func (e ProtocolError) Error() string { return "reading a reply: " + string(e) }

// aLongTimeAgo is a read deadline that has passed: it interrupts a read
// in progress when the context ends.
var aLongTimeAgo = time.Unix(1, 0)

// readRawContext is ReadRaw bounded also by ctx: when ctx ends during the read,
// the read returns at once with ctx's error.
func (c *Conn) readRawContext(ctx context.Context, p []byte) (int, error) {
	if c.raw == nil {
		return 0, errors.New("redisconn: no raw connection (cluster)")
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.raw.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	if ctx.Done() == nil { // never cancelled: the deadline is all
		return c.raw.Read(p)
	}
	// Registered after the deadline is set, so a cancellation at any
	// moment from here on moves it into the past.
	stop := context.AfterFunc(ctx, func() {
		c.raw.SetReadDeadline(aLongTimeAgo) //nolint:errcheck // a connection that refuses it is closed: the read fails anyway
	})
	n, err := c.raw.Read(p)
	stop()
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return n, err
}

// Buffered is the number of bytes read from the socket and not yet
// parsed: 0 between batches whose every reply was read.
func (rr *Replies) Buffered() int { return rr.w - rr.r }

// Fill reads at least one more byte from the connection.
func (rr *Replies) Fill(ctx context.Context) error { return rr.more(ctx) }

// more reads at least one more byte. Bytes already handed out stay valid:
// a full buffer is replaced by a larger one, never moved within itself.
func (rr *Replies) more(ctx context.Context) error {
	if rr.w == len(rr.buf) && !rr.held && rr.r > 0 {
		rr.w = copy(rr.buf, rr.buf[rr.r:rr.w])
		rr.r = 0
	}
	if rr.w == len(rr.buf) {
		grown := make([]byte, max(2*len(rr.buf), 64<<10))
		rr.w = copy(grown, rr.buf[rr.r:rr.w])
		rr.buf, rr.r = grown, 0
	}
	n, err := rr.conn.readRawContext(ctx, rr.buf[rr.w:])
	rr.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = ProtocolError("no data")
	}
	return err
}

// Begin starts a reply whose parts may be kept until the next Begin: what
// is left of the buffer moves to its start.
func (rr *Replies) Begin() {
	rr.held = true
	if rr.r > 0 {
		rr.w = copy(rr.buf, rr.buf[rr.r:rr.w])
		rr.r = 0
	}
}

// ReplyHeader is a reply line: its type byte and, for arrays, bulk
// strings and integers, its number; for errors and status replies, the
// text.
type ReplyHeader struct {
	Type byte
	N    int64
	Text []byte
}

// Header reads a reply line.
func (rr *Replies) Header(ctx context.Context) (ReplyHeader, error) {
	for {
		if i := bytes.Index(rr.buf[rr.r:rr.w], crlf); i >= 0 {
			line := rr.buf[rr.r : rr.r+i]
			rr.r += i + 2
			if len(line) == 0 {
				return ReplyHeader{}, ProtocolError("empty line")
			}
			t := line[0]
			switch t {
			case '-', '+':
				return ReplyHeader{Type: t, Text: line[1:]}, nil
			case '*', '$', ':':
				n, ok := parseLength(line[1:])
				if !ok {
					return ReplyHeader{}, ProtocolError(fmt.Sprintf("bad length %.40q", line))
				}
				return ReplyHeader{Type: t, N: n}, nil
			}
			return ReplyHeader{}, ProtocolError(fmt.Sprintf("unexpected %.40q", line))
		}
		if err := rr.more(ctx); err != nil {
			return ReplyHeader{}, err
		}
	}
}

var crlf = []byte("\r\n")

// parseLength reads the number of a reply line: an optional minus sign
// and 1 to 18 digits (what strconv would take there, without the string
// it allocates, several times an entry of a stream reply).
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

// Array reads an array header; n < 0 is a nil array. An error reply is
// returned as a redis.Error, which leaves the connection in step.
func (rr *Replies) Array(ctx context.Context) (int64, error) {
	h, err := rr.Header(ctx)
	switch {
	case err != nil:
		return 0, err
	case h.Type == '-':
		return 0, redis.Error(h.Text)
	case h.Type != '*':
		return 0, ProtocolError(fmt.Sprintf("want an array, got %q", h.Type))
	}
	return h.N, nil
}

// Bulk reads a bulk string; it stays valid until the next Begin.
func (rr *Replies) Bulk(ctx context.Context) ([]byte, error) {
	h, err := rr.Header(ctx)
	if err != nil {
		return nil, err
	}
	if h.Type != '$' || h.N < 0 {
		return nil, ProtocolError(fmt.Sprintf("want a string, got %q %d", h.Type, h.N))
	}
	return rr.body(ctx, h.N)
}

func (rr *Replies) body(ctx context.Context, n int64) ([]byte, error) {
	for int64(rr.w-rr.r) < n+2 {
		if err := rr.more(ctx); err != nil {
			return nil, err
		}
	}
	b := rr.buf[rr.r : rr.r+int(n) : rr.r+int(n)]
	if rr.buf[rr.r+int(n)] != '\r' || rr.buf[rr.r+int(n)+1] != '\n' {
		return nil, ProtocolError("a bulk string not ended by CRLF")
	}
	rr.r += int(n) + 2
	return b, nil
}

// Skip reads one whole reply and discards it; an error reply at its top
// level is returned as a redis.Error (errors nested in an array, as
// EXEC gives, are not looked at).
func (rr *Replies) Skip(ctx context.Context) error {
	rr.held = false
	if rr.r == rr.w {
		rr.r, rr.w = 0, 0 // nothing held: read into the whole buffer
	}
	h, err := rr.Header(ctx)
	if err != nil {
		return err
	}
	n := h.N
	switch h.Type {
	case '-':
		return redis.Error(h.Text)
	case '$':
		if n >= 0 {
			_, err = rr.body(ctx, n)
		}
		return err
	case '*':
		for ; n > 0; n-- {
			if err := rr.Skip(ctx); err != nil {
				var nested redis.Error
				if !errors.As(err, &nested) {
					return err
				}
			}
		}
	}
	return nil
}

// Int reads one reply that should be an integer and returns it; an error
// reply comes back as a redis.Error, and any other reply is skipped and
// returned as ok false.
func (rr *Replies) Int(ctx context.Context) (n int64, ok bool, err error) {
	rr.held = false
	if rr.r == rr.w {
		rr.r, rr.w = 0, 0
	}
	h, err := rr.Header(ctx)
	if err != nil {
		return 0, false, err
	}
	n = h.N
	switch h.Type {
	case ':':
		return n, true, nil
	case '-':
		return 0, false, redis.Error(h.Text)
	case '$':
		if n >= 0 {
			_, err = rr.body(ctx, n)
		}
		return 0, false, err
	case '*':
		for ; n > 0; n-- {
			if err := rr.Skip(ctx); err != nil {
				var nested redis.Error
				if !errors.As(err, &nested) {
					return 0, false, err
				}
			}
		}
	}
	return 0, false, nil
}
