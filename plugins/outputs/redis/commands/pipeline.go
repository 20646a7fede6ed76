package commands

import (
	"context"
	"errors"
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
	b.seal()
	b.progress = to.Progress
	before := b.metrics
	res := writer.Result{Settled: b.refusedAtSeal}
	b.refusedAtSeal = 0
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
	b.group(sel)
	// Two chunks in flight: the next one is on the wire before the replies
	// of this one are read, so Redis never idles while we read replies and
	// encode. Replies are a few bytes a command and Redis buffers what we
	// have not read yet, so this cannot stall.
	if err := b.send(c, raw, b.units[:b.chunks[0]], b.idem != nil); err != nil {
		b.conclude(now, nil, true)
		return written, err
	}
	if b.idem != nil {
		// The script is loaded ahead of every write's first use, on
		// whatever server now answers: a restart or a failover emptied
		// the cache, and EVALSHA would be refused (NOSCRIPT). A refused
		// load is the reason of the NOSCRIPT replies that follow, if any.
		var err error
		if replies != nil {
			err = replies.Skip(ctx)
		} else {
			_, err = redis.ReceiveContext(c, ctx)
		}
		var reply redis.Error
		if errors.As(err, &reply) {
			b.loadErr = reply
		} else if err != nil {
			b.conclude(now, nil, true)
			return written, err
		}
	}
	from := 0
	for k, end := range b.chunks {
		if k+1 < len(b.chunks) {
			if err := b.send(c, raw, b.units[end:b.chunks[k+1]], false); err != nil {
				b.conclude(now, nil, true)
				return written, err
			}
		}
		for _, u := range b.units[from:end] {
			err := b.receive(ctx, c, replies, u)
			var reply redis.Error
			if err != nil && !errors.As(err, &reply) {
				// The connection failed: the rest is unknown.
				b.conclude(now, nil, true)
				return written, err
			}
			if err != nil {
				err = reply
			}
			for _, i := range b.order[u.from:u.to] {
				if b.settle(i, err) {
					written++
				}
			}
		}
		if b.progress != nil {
			n := 0
			for _, i := range b.order[b.units[from].from:b.units[end-1].to] {
				if b.round.done[i] {
					n += b.cmds[i].metrics + b.cmds[i].extra
				}
			}
			b.progress(n)
		}
		from = end
	}
	if b.wait > 0 && written > 0 {
		if err := redisconn.WaitReplicas(ctx, c, b.wait, b.waitMs); err != nil {
			// Applied on this server but not yet on enough replicas: sent
			// again (at least once) rather than lost in a failover.
			clear(b.round.done)
			b.round.released = b.round.released[:0]
			b.conclude(now, typeAsker(ctx, c), false)
			return 0, err
		}
	}
	return written, b.finish(now, typeAsker(ctx, c), false)
}

// receive reads the reply to unit u; the writes a script call skipped as
// already applied are counted.
func (b *batch) receive(ctx context.Context, c redis.Conn, replies *redisconn.Replies, u unit) error {
	if !u.script {
		if replies != nil {
			return replies.Skip(ctx)
		}
		_, err := redis.ReceiveContext(c, ctx)
		return err
	}
	var n int64
	var err error
	if replies != nil {
		n, _, err = replies.Int(ctx)
	} else {
		var v interface{}
		v, err = redis.ReceiveContext(c, ctx)
		n, _ = v.(int64)
	}
	if err == nil {
		b.skipped += int(n)
	}
	return b.loadRefused(err)
}

// send writes one chunk of units, after SCRIPT LOAD of the idempotent
// writes' script when load is set. On our own connections they are
// encoded to RESP here, from the arena, and written in one piece: redigo's
// Send would box every argument in an interface (an allocation each).
func (b *batch) send(c redis.Conn, raw *redisconn.Conn, units []unit, load bool) error {
	if raw == nil || !raw.CanWriteRaw() {
		if load {
			if err := c.Send("SCRIPT", "LOAD", idemScript); err != nil {
				return err
			}
		}
		for _, u := range units {
			name, args := b.call(u)
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
	for _, u := range units {
		w = b.appendUnit(w, u)
	}
	b.wire = w
	return raw.WriteRaw(w)
}
