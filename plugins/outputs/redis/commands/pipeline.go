package commands

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// Sending a command batch to one server: pipelined in chunks, encoded as
// RESP straight from the batch's arena, and what went through taken out of
// the batch so that a retry sends only the rest.

// PipelineChunk is how many commands are sent before their replies are
// read: enough to keep Redis busy, few enough to bound the replies held.
const PipelineChunk = 1024

// Write sends every command, pipelined: on one connection, or on a Redis
// Cluster to the node of each key's slot (see cluster.go). Commands Redis
// accepted are removed from the batch; what failed, or whose reply never
// came, stays for the next attempt. Retrying may repeat a command whose reply was lost
// with the connection: delivery is at least once. With holds (the execd
// loop), commands for keys Redis refused wait for their own retry, and a
// refusal is no error (see refusals.go).
func (b *batch) Write(ctx context.Context, to *writer.Target) (writer.Result, error) {
	b.progress = to.Progress
	before := b.metrics
	var res writer.Result
	var err error
	if to.Config != nil && to.Config.IsCluster() {
		res.Handed = true
		res.Updates, err = b.writeCluster(ctx, to.Config)
	} else {
		err = to.Client.RunContext(ctx, func(c redis.Conn) error {
			res.Handed = true
			n, err := b.writeConn(ctx, c)
			if err == nil {
				res.Updates = n
			}
			return err
		})
	}
	res.Written = before - b.metrics
	b.endIdem()
	return res, err
}

// writeConn is Write on one connection; it returns the commands written.
func (b *batch) writeConn(ctx context.Context, c redis.Conn) (int, error) {
	if len(b.cmds) == 0 {
		return 0, nil
	}
	now := time.Now()
	sel := b.plan(now)
	if len(sel) == 0 {
		return 0, nil // every command waits for its key's next attempt
	}
	b.startIdem(now)
	raw, _ := c.(*redisconn.Conn)
	// On our own connections the replies are read by us too: one read of
	// the socket for thousands of them, where redigo sets a deadline and
	// waits on the context for each.
	var replies *redisconn.Replies
	if raw != nil && raw.CanWriteRaw() {
		replies = raw.Replies()
	}
	written := 0
	// Two chunks in flight: the next one is on the wire before the replies
	// of this one are read, so Redis never idles while we read replies and
	// encode. Replies are a few bytes a command and Redis buffers what we
	// have not read yet, so this cannot stall.
	if err := b.send(c, raw, sel[:min(PipelineChunk, len(sel))], b.idem != nil); err != nil {
		_ = b.finish(now, nil, true)
		return written, err
	}
	if b.idem != nil {
		// The script is loaded ahead of every write's first use, on
		// whatever server now answers: a restart or a failover emptied
		// the cache, and EVALSHA would be refused (NOSCRIPT).
		var err error
		if replies != nil {
			err = replies.Skip(ctx)
		} else {
			_, err = redis.ReceiveContext(c, ctx)
		}
		if err != nil {
			_ = b.finish(now, nil, true)
			return written, err
		}
	}
	for start := 0; start < len(sel); start += PipelineChunk {
		end := min(start+PipelineChunk, len(sel))
		if end < len(sel) {
			if err := b.send(c, raw, sel[end:min(end+PipelineChunk, len(sel))], false); err != nil {
				_ = b.finish(now, nil, true)
				return written, err
			}
		}
		for _, i := range sel[start:end] {
			err := b.receive(ctx, c, replies, i)
			var reply redis.Error
			if err != nil && !errors.As(err, &reply) {
				// The connection failed: the rest is unknown.
				_ = b.finish(now, nil, true)
				return written, err
			}
			if err != nil {
				err = reply
			}
			if b.settle(i, err) {
				written++
			}
		}
		if b.progress != nil {
			n := 0
			for _, i := range sel[start:end] {
				if b.round.done[i] {
					n += b.cmds[i].metrics
				}
			}
			b.progress(n)
		}
	}
	if b.wait > 0 && written > 0 {
		if err := redisconn.WaitReplicas(ctx, c, b.wait, b.waitMs); err != nil {
			// Applied on this server but not yet on enough replicas: sent
			// again (at least once) rather than lost in a failover.
			clear(b.round.done)
			b.round.released = b.round.released[:0]
			_ = b.finish(now, typeAsker(ctx, c), false)
			return 0, err
		}
	}
	return written, b.finish(now, typeAsker(ctx, c), false)
}

// receive reads the reply to command i; a write skipped as already
// applied (the script's 0) is counted.
func (b *batch) receive(ctx context.Context, c redis.Conn, replies *redisconn.Replies, i int) error {
	if !b.cmds[i].idem {
		if replies != nil {
			return replies.Skip(ctx)
		}
		_, err := redis.ReceiveContext(c, ctx)
		return err
	}
	var n int64
	var ok bool
	var err error
	if replies != nil {
		n, ok, err = replies.Int(ctx)
	} else {
		var v interface{}
		v, err = redis.ReceiveContext(c, ctx)
		n, ok = v.(int64)
	}
	if err == nil && ok && n == 0 {
		b.skipped++
	}
	return err
}

// send writes one chunk of commands, after SCRIPT LOAD of the idempotent
// writes' script when load is set. On our own connections they are
// encoded to RESP here, from the arena, and written in one piece: redigo's
// Send would box every argument in an interface (an allocation each).
func (b *batch) send(c redis.Conn, raw *redisconn.Conn, idx []int, load bool) error {
	if raw == nil || !raw.CanWriteRaw() {
		if load {
			if err := c.Send("SCRIPT", "LOAD", idemScript); err != nil {
				return err
			}
		}
		for _, i := range idx {
			cmd := b.cmds[i]
			name, args := b.command(cmd)
			if err := c.Send(name, args...); err != nil {
				return err
			}
		}
		return c.Flush()
	}
	w := b.wire[:0]
	if load {
		w = redisconn.AppendCommand(w, "SCRIPT", "LOAD", idemScript)
	}
	for _, i := range idx {
		cmd := &b.cmds[i]
		n := cmd.to - cmd.from + 1
		if cmd.idem {
			n += idemKeyArgs
			w = append(w, '*')
			w = strconv.AppendInt(w, int64(n), 10)
			w = append(w, "\r\n"...)
			w = appendBulk(w, []byte("EVALSHA"))
			w = appendBulk(w, []byte(idemSHA))
			w = appendBulk(w, []byte("2"))
			key := b.spans[cmd.from]
			w = appendBulk(w, b.arena[key.from:key.to])
			b.scratch = b.idem.appendMemKey(b.scratch[:0], b.arena[key.from:key.to])
			w = appendBulk(w, b.scratch)
			w = appendHexBulk(w, cmd.id[:])
			w = appendBulk(w, b.idArgs.now)
			w = appendBulk(w, b.idArgs.oldest)
			w = appendBulk(w, []byte(b.idem.window))
			w = appendBulk(w, []byte(b.idem.maxIDs))
			w = appendBulk(w, []byte(cmd.name))
			for _, s := range b.spans[cmd.from+1 : cmd.to] {
				w = appendBulk(w, b.arena[s.from:s.to])
			}
			continue
		}
		w = append(w, '*')
		w = strconv.AppendInt(w, int64(n), 10)
		w = append(w, "\r\n$"...)
		w = strconv.AppendInt(w, int64(len(cmd.name)), 10)
		w = append(w, "\r\n"...)
		w = append(w, cmd.name...)
		w = append(w, "\r\n"...)
		for _, s := range b.spans[cmd.from:cmd.to] {
			w = append(w, '$')
			w = strconv.AppendInt(w, int64(s.to-s.from), 10)
			w = append(w, "\r\n"...)
			w = append(w, b.arena[s.from:s.to]...)
			w = append(w, "\r\n"...)
		}
	}
	b.wire = w
	return raw.WriteRaw(w)
}

func appendBulk(w, p []byte) []byte {
	w = append(w, '$')
	w = strconv.AppendInt(w, int64(len(p)), 10)
	w = append(w, "\r\n"...)
	w = append(w, p...)
	return append(w, "\r\n"...)
}

func appendHexBulk(w, p []byte) []byte {
	w = append(w, '$')
	w = strconv.AppendInt(w, int64(2*len(p)), 10)
	w = append(w, "\r\n"...)
	w = hex.AppendEncode(w, p)
	return append(w, "\r\n"...)
}
