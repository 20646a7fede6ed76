package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/mna/redisc"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// writeCluster is Write on a Redis Cluster: commands are grouped by the
// master serving their key's slot, and each node's commands are pipelined
// to it on the same raw path as on a single server (chunks, RESP from the
// arena), every node at once, one goroutine each. The goroutines only
// read the batch; their replies are settled afterwards, node after node,
// on this goroutine.
//
// A MOVED or ASK reply (a slot moved, a failover) leaves the command in
// the batch and reloads the slot map; the next attempt goes to the new
// node. A node whose connection fails leaves its unanswered commands in
// the batch, while the other nodes' writes count.
//
// With wait > 0, each node's commands end with WAIT: they count as
// written only once that many replicas have them, so a failover cannot
// lose them; a node with too few replicas has its commands sent again.
func (b *batch) writeCluster(ctx context.Context, cfg *redisconn.Config) (int, error) {
	if len(b.cmds) == 0 {
		return 0, nil
	}
	now := time.Now()
	sel := b.plan(now)
	if len(sel) == 0 {
		return 0, nil // every command waits for its key's next attempt
	}
	b.startIdem(now)
	nodes := b.byNode(cfg.ClusterLayout(), sel)
	b.order, b.units, b.chunks = b.order[:0], b.units[:0], b.chunks[:0]
	for _, n := range nodes {
		n.u0, n.c0, n.o0 = len(b.units), len(b.chunks), len(b.order)
		b.groupMore(n.sel)
		n.u1, n.c1, n.o1 = len(b.units), len(b.chunks), len(b.order)
	}
	if len(nodes) == 1 {
		b.writeNode(ctx, cfg, nodes[0])
	} else {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.writeNode(ctx, cfg, n)
			}()
		}
		wg.Wait()
	}
	return b.settleNodes(now, cfg, nodes)
}

// nodeWrite is one node's part of a cluster write: its commands, their
// layout (units b.units[u0:u1], chunks b.chunks[c0:c1], commands
// b.order[o0:o1]), and what the node answered.
type nodeWrite struct {
	addr string // "" for commands whose slot no known master serves
	slot int    // the slot of one of its commands, for errors
	sel  []int

	u0, u1, c0, c1, o0, o1 int

	wire, scratch []byte // its own: nodes are written at once

	replies []nodeReply // one per unit, in order, as far as they came
	loadErr error       // its SCRIPT LOAD was refused with it
	err     error       // the connection failed: the replies after those got are unknown
	waitErr error       // too few replicas acknowledged its writes
}

// nodeReply is the reply to one unit: nil or a redis.Error, and for a
// script call the writes it skipped as already applied.
type nodeReply struct {
	err     error
	skipped int64
}

// byNode splits the commands sel by the master serving their key's slot,
// keeping their order; nodes with no command are left out.
func (b *batch) byNode(lay *redisconn.ClusterLayout, sel []int) []*nodeWrite {
	need := len(lay.Masters) + 1 // the last for slots no known master serves
	for len(b.nodes) < need {
		b.nodes = append(b.nodes, &nodeWrite{})
	}
	all := b.nodes[:need]
	for k, n := range all {
		n.addr, n.sel, n.replies = "", n.sel[:0], n.replies[:0]
		n.loadErr, n.err, n.waitErr = nil, nil, nil
		if k < len(lay.Masters) {
			n.addr = lay.Masters[k]
		}
	}
	for _, i := range sel {
		slot := redisc.Slot(string(b.key(i)))
		k := lay.Owner(slot)
		if k < 0 {
			k = need - 1
		}
		n := all[k]
		if len(n.sel) == 0 {
			n.slot = slot
		}
		n.sel = append(n.sel, i)
	}
	used := b.used[:0]
	for _, n := range all {
		if len(n.sel) > 0 {
			used = append(used, n)
		}
	}
	b.used = used
	return used
}

// writeNode pipelines node n's commands to it and collects the replies
// in n. It reads the batch and writes only n: nodes are written at once.
func (b *batch) writeNode(ctx context.Context, cfg *redisconn.Config, n *nodeWrite) {
	if n.addr == "" {
		n.err = redisconn.NoNodeError(n.slot)
		return
	}
	conn, err := cfg.NodeConn(ctx, n.addr)
	if err != nil {
		n.err = err
		return
	}
	defer func() { cfg.PutNodeConn(conn, n.err == nil) }()
	rr := conn.Replies()
	chunks := b.chunks[n.c0:n.c1]
	// Two chunks in flight, as on a single server (writeConn).
	if err := b.sendNode(conn, n, n.u0, chunks[0], b.idem != nil); err != nil {
		n.err = err
		return
	}
	var reply redis.Error
	if b.idem != nil {
		// Loaded on the node in every write: see writeConn.
		err := rr.Skip(ctx)
		if errors.As(err, &reply) {
			n.loadErr = reply
		} else if err != nil {
			n.err = err
			return
		}
	}
	from := n.u0
	for k, end := range chunks {
		if k+1 < len(chunks) {
			if err := b.sendNode(conn, n, end, chunks[k+1], false); err != nil {
				n.err = err
				return
			}
		}
		for _, u := range b.units[from:end] {
			var r nodeReply
			var err error
			if u.script {
				r.skipped, _, err = rr.Int(ctx)
			} else {
				err = rr.Skip(ctx)
			}
			if err != nil && !errors.As(err, &reply) {
				n.err = err
				return
			}
			if err != nil {
				r.err = reply
			}
			n.replies = append(n.replies, r)
		}
		from = end
	}
	if b.wait > 0 {
		n.wire = redisconn.AppendCommand(n.wire[:0], "WAIT", strconv.FormatInt(b.wait, 10), strconv.FormatInt(b.waitMs, 10))
		if err := conn.WriteRaw(n.wire); err != nil {
			n.err = err
			return
		}
		got, ok, err := rr.Int(ctx)
		switch {
		case errors.As(err, &reply):
			n.waitErr = reply
		case err != nil:
			n.err = err
		case !ok:
			n.err = redisconn.ProtocolError("WAIT did not answer an integer")
		case got < b.wait:
			// Applied on the master, not yet on enough replicas: sent
			// again later (at least once), rather than lost in a failover.
			n.waitErr = redis.Error(fmt.Sprintf("TRYAGAIN only %d of %d replicas acknowledged the writes", got, b.wait))
		}
	}
}

// sendNode writes the units b.units[from:to] of node n, after SCRIPT LOAD
// when load is set.
func (b *batch) sendNode(conn *redisconn.Conn, n *nodeWrite, from, to int, load bool) error {
	w := n.wire[:0]
	if load {
		w = redisconn.AppendCommand(w, "SCRIPT", "LOAD", idemScript)
	}
	for _, u := range b.units[from:to] {
		w = b.appendUnitTo(w, u, &n.scratch)
	}
	n.wire = w
	return conn.WriteRaw(w)
}

// settleNodes takes the nodes' replies, node after node in the order
// written, and ends the write.
func (b *batch) settleNodes(now time.Time, cfg *redisconn.Config, nodes []*nodeWrite) (int, error) {
	written := 0
	var broken error
	refresh := false
	var moved map[int]string
	for _, n := range nodes {
		released, skipped := len(b.round.released), b.skipped
		b.loadErr = n.loadErr
		wrote := 0
		for j, r := range n.replies {
			u := b.units[n.u0+j]
			err := r.err
			if u.script {
				if err == nil {
					b.skipped += int(r.skipped)
				}
				err = b.loadRefused(err)
			}
			if err != nil {
				if re := redisc.ParseRedir(err); re != nil {
					refresh = true
					if re.Type == "MOVED" {
						if moved == nil {
							moved = make(map[int]string)
						}
						moved[re.NewSlot] = re.Addr
					}
				} else if redisc.IsTryAgain(err) {
					refresh = true
				}
			}
			for _, i := range b.order[u.from:u.to] {
				if b.settle(i, err) {
					wrote++
				}
			}
		}
		switch {
		case n.err != nil:
			refresh = true
			if broken == nil {
				broken = n.err
			}
			if b.wait > 0 {
				// Nothing of this node is known to be on a replica.
				b.undo(b.order[n.o0:n.o1], released)
				b.skipped, wrote = skipped, 0
			}
		case n.waitErr != nil:
			// Too few replicas: this node's commands are sent again, the
			// other nodes' count.
			b.undo(b.order[n.o0:n.o1], released)
			wrote = 0
			if b.round.server == nil {
				b.round.server = n.waitErr
			}
		}
		written += wrote
		if b.progress != nil && wrote > 0 {
			m := 0
			for _, i := range b.order[n.o0:n.o1] {
				if b.round.done[i] {
					m += b.cmds[i].metrics + b.cmds[i].extra
				}
			}
			b.progress(m)
		}
	}
	if refresh {
		cfg.RefreshCluster()
		// A MOVED names the new node at once; a map loaded from a node
		// that has not heard of the move yet must not send it back.
		cfg.Moved(moved)
	}
	if broken != nil {
		b.conclude(now, nil, true)
		return written, broken
	}
	// TYPE for a refused key is asked of the node serving it.
	ask := func(key string) (string, error) {
		conn, err := cfg.ClusterConn(key)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		return redis.String(conn.Do("TYPE", key))
	}
	return written, b.finish(now, ask, false)
}

// undo takes back the commands idx that settle found written, and the
// held keys it released from the released-th on: they are sent again.
func (b *batch) undo(idx []int, released int) {
	rd := &b.round
	for _, i := range idx {
		rd.done[i] = false
	}
	rd.released = rd.released[:released]
}
