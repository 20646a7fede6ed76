package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/gomodule/redigo/redis"
	"github.com/mna/redisc"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// pipelineChunk is how many commands are sent before their replies are
// read: enough to keep Redis busy, few enough to bound the replies held.
const pipelineChunk = 1024

// command is one Redis command; its arguments are spans of the batch's
// arena, so building a batch allocates only when the arena grows.
type command struct {
	name     string
	from, to int // its args: spans[from:to]
	metrics  int // metrics this command completes (1 on a metric's first command, else 0)
}

type span struct{ from, to int }

// commandBatch is the batch of the per-metric modes: the commands built
// from each metric, in order, sent as one pipeline.
type commandBatch struct {
	build func(b *commandBatch, m *metricline.Metric) error
	// wait, when > 0, makes a write count only once that many replicas
	// acknowledged it (WAIT); waitMs is WAIT's own timeout.
	wait, waitMs int64

	arena   []byte
	spans   []span
	cmds    []command
	metrics int

	// Building one metric's commands.
	first bool
	argv  []interface{}
	wire  []byte // RESP of the chunk being sent
}

func newCommandBatch(build func(b *commandBatch, m *metricline.Metric) error, wait, waitMs int64) *commandBatch {
	return &commandBatch{build: build, wait: wait, waitMs: waitMs}
}

func (b *commandBatch) Add(m *metricline.Metric) error {
	cmds, spans, arena := len(b.cmds), len(b.spans), len(b.arena)
	b.first = true
	if err := b.build(b, m); err != nil {
		// Take back what the metric had added.
		b.cmds, b.spans, b.arena = b.cmds[:cmds], b.spans[:spans], b.arena[:arena]
		return err
	}
	b.metrics++
	return nil
}

// begin starts a command; arguments follow with arg/argBytes.
func (b *commandBatch) begin(name string) {
	c := command{name: name, from: len(b.spans), to: len(b.spans)}
	if b.first {
		c.metrics, b.first = 1, false
	}
	b.cmds = append(b.cmds, c)
}

// appendArg returns the arena to write one argument into; end closes it.
func (b *commandBatch) argStart() int { return len(b.arena) }

func (b *commandBatch) argEnd(from int) {
	b.spans = append(b.spans, span{from, len(b.arena)})
	b.cmds[len(b.cmds)-1].to = len(b.spans)
}

func (b *commandBatch) arg(s string) {
	from := b.argStart()
	b.arena = append(b.arena, s...)
	b.argEnd(from)
}

func (b *commandBatch) argBytes(s []byte) {
	from := b.argStart()
	b.arena = append(b.arena, s...)
	b.argEnd(from)
}

func (b *commandBatch) Metrics() int { return b.metrics }

func (b *commandBatch) Reset() {
	b.arena, b.spans, b.cmds, b.metrics = b.arena[:0], b.spans[:0], b.cmds[:0], 0
}

func (b *commandBatch) Absorb(newer batch) {
	n := newer.(*commandBatch)
	arena, spans := len(b.arena), len(b.spans)
	b.arena = append(b.arena, n.arena...)
	for _, s := range n.spans {
		b.spans = append(b.spans, span{s.from + arena, s.to + arena})
	}
	for _, c := range n.cmds {
		c.from += spans
		c.to += spans
		b.cmds = append(b.cmds, c)
	}
	b.metrics += n.metrics
	n.Reset()
}

func (b *commandBatch) args(c command) []interface{} {
	b.argv = b.argv[:0]
	for _, s := range b.spans[c.from:c.to] {
		b.argv = append(b.argv, b.arena[s.from:s.to])
	}
	return b.argv
}

// Write sends every command, pipelined. Commands Redis accepted are
// removed from the batch; what failed, or whose reply never came, stays
// for the next attempt. Retrying may repeat a command whose reply was lost
// with the connection: delivery is at least once.
func (b *commandBatch) Write(ctx context.Context, c redis.Conn) (int, error) {
	raw, _ := c.(*redisconn.Conn)
	done := make([]bool, len(b.cmds))
	var firstErr error
	written := 0
	for start := 0; start < len(b.cmds); start += pipelineChunk {
		end := min(start+pipelineChunk, len(b.cmds))
		if err := b.send(c, raw, b.cmds[start:end]); err != nil {
			b.keep(done)
			return written, err
		}
		for i := start; i < end; i++ {
			_, err := redis.ReceiveContext(c, ctx)
			var reply redis.Error
			switch {
			case err == nil:
				done[i] = true
				written++
			case errors.As(err, &reply):
				if firstErr == nil {
					firstErr = err
				}
			default: // the connection failed: the rest is unknown
				b.keep(done)
				return written, err
			}
		}
	}
	if b.wait > 0 && written > 0 {
		if err := waitReplicas(ctx, c, b.wait, b.waitMs); err != nil {
			// Applied on this server but not yet on enough replicas: sent
			// again (at least once) rather than lost in a failover.
			return 0, err
		}
	}
	b.keep(done)
	return written, firstErr
}

// waitReplicas runs WAIT: an error when fewer than n replicas have every
// write of this connection so far.
func waitReplicas(ctx context.Context, c redis.Conn, n, ms int64) error {
	got, err := redis.Int64(redis.DoContext(c, ctx, "WAIT", n, ms))
	if err != nil {
		return err
	}
	if got < n {
		return redis.Error(fmt.Sprintf("TRYAGAIN only %d of %d replicas acknowledged the writes", got, n))
	}
	return nil
}

// send writes one chunk of commands. On our own connections they are
// encoded to RESP here, from the arena, and written in one piece: redigo's
// Send would box every argument in an interface (an allocation each).
func (b *commandBatch) send(c redis.Conn, raw *redisconn.Conn, cmds []command) error {
	if raw == nil || !raw.CanWriteRaw() {
		for _, cmd := range cmds {
			if err := c.Send(cmd.name, b.args(cmd)...); err != nil {
				return err
			}
		}
		return c.Flush()
	}
	w := b.wire[:0]
	for _, cmd := range cmds {
		w = append(w, '*')
		w = strconv.AppendInt(w, int64(cmd.to-cmd.from+1), 10)
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

// WriteCluster is Write on a Redis Cluster: commands are grouped by the
// slot of their key and each group is pipelined to the node serving it.
// A MOVED or ASK reply (a slot moved, a failover) leaves the command in the
// batch and reloads the slot map; the next attempt goes to the new node.
//
// With wait > 0, each group ends with WAIT: its commands count as written
// only once that many replicas have them, so a failover cannot lose them.
func (b *commandBatch) WriteCluster(ctx context.Context, cfg *redisconn.Config) (int, error) {
	bySlot := map[int][]int{}
	var slots []int
	for i, c := range b.cmds {
		slot := -1
		if c.to > c.from {
			s := b.spans[c.from]
			slot = redisc.Slot(string(b.arena[s.from:s.to]))
		}
		if _, ok := bySlot[slot]; !ok {
			slots = append(slots, slot)
		}
		bySlot[slot] = append(bySlot[slot], i)
	}
	done := make([]bool, len(b.cmds))
	written := 0
	var firstErr error
	for _, slot := range slots {
		idx := bySlot[slot]
		first := b.cmds[idx[0]]
		key := ""
		if first.to > first.from {
			s := b.spans[first.from]
			key = string(b.arena[s.from:s.to])
		}
		n, err := b.writeGroup(ctx, cfg, key, idx, done)
		written += n
		if err != nil {
			if _, reply := err.(redis.Error); !reply {
				b.keep(done)
				return written, err
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	b.keep(done)
	return written, firstErr
}

// writeGroup pipelines the commands idx, which share a slot, to its node.
func (b *commandBatch) writeGroup(ctx context.Context, cfg *redisconn.Config, key string, idx []int, done []bool) (int, error) {
	conn, err := cfg.ClusterConn(key)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	for _, i := range idx {
		if err := conn.Send(b.cmds[i].name, b.args(b.cmds[i])...); err != nil {
			cfg.RefreshCluster()
			return 0, err
		}
	}
	if b.wait > 0 {
		if err := conn.Send("WAIT", b.wait, b.waitMs); err != nil {
			return 0, err
		}
	}
	if err := conn.Flush(); err != nil {
		cfg.RefreshCluster()
		return 0, err
	}
	var ok []int
	var firstErr error
	for _, i := range idx {
		_, err := conn.Receive()
		var reply redis.Error
		switch {
		case err == nil:
			ok = append(ok, i)
		case errors.As(err, &reply):
			if redisc.ParseRedir(err) != nil || redisc.IsTryAgain(err) {
				cfg.RefreshCluster()
			}
			if firstErr == nil {
				firstErr = err
			}
		default:
			cfg.RefreshCluster()
			return 0, err
		}
	}
	if b.wait > 0 {
		n, err := redis.Int64(conn.Receive())
		if err != nil {
			return 0, err
		}
		if n < b.wait {
			// Applied on the master, not yet on enough replicas: sent
			// again later (at least once), rather than lost in a failover.
			return 0, redis.Error(fmt.Sprintf("TRYAGAIN only %d of %d replicas acknowledged the writes", n, b.wait))
		}
	}
	for _, i := range ok {
		done[i] = true
	}
	return len(ok), firstErr
}

// keep drops the commands marked done, compacting the batch.
func (b *commandBatch) keep(done []bool) {
	if len(b.cmds) == 0 {
		return
	}
	kept := b.cmds[:0]
	metrics := 0
	for i, c := range b.cmds {
		if i < len(done) && done[i] {
			continue
		}
		kept = append(kept, c)
		metrics += c.metrics
	}
	// A metric whose first command went through but whose later ones did
	// not is still counted, so the backlog does not undercount.
	if len(kept) > 0 && metrics == 0 {
		metrics = 1
	}
	b.cmds = kept
	b.metrics = metrics
	if len(kept) == 0 {
		b.Reset()
	}
}

func (b *commandBatch) Commands() []string {
	out := make([]string, 0, len(b.cmds))
	for _, c := range b.cmds {
		words := append([]interface{}{c.name}, b.args(c)...)
		out = append(out, formatCommand(words))
	}
	return out
}

// lastKey is the first argument of the latest write command of the metric
// being built: the key every follow-up command (LTRIM, PEXPIRE) names.
func (b *commandBatch) lastKey() []byte {
	for i := len(b.cmds) - 1; i >= 0; i-- {
		c := b.cmds[i]
		if c.name != "PEXPIRE" && c.name != "LTRIM" && c.to > c.from {
			s := b.spans[c.from]
			return b.arena[s.from:s.to]
		}
	}
	return nil
}
