package commands

import (
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/mna/redisc"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// writeCluster is Write on a Redis Cluster: commands are grouped by the
// slot of their key and each group is pipelined to the node serving it.
// A MOVED or ASK reply (a slot moved, a failover) leaves the command in the
// batch and reloads the slot map; the next attempt goes to the new node.
//
// With wait > 0, each group ends with WAIT: its commands count as written
// only once that many replicas have them, so a failover cannot lose them.
// It takes no context: redisc's connections have none, and the timeouts
// set at dial bound each group instead.
func (b *batch) writeCluster(cfg *redisconn.Config) (int, error) {
	if len(b.cmds) == 0 {
		return 0, nil
	}
	now := time.Now()
	sel := b.plan(now)
	if len(sel) == 0 {
		return 0, nil // every command waits for its key's next attempt
	}
	b.startIdem(now)
	bySlot := make(map[int][]int)
	var slots []int
	for _, i := range sel {
		slot := -1
		if key := b.key(i); key != nil {
			slot = redisc.Slot(string(key))
		}
		if _, ok := bySlot[slot]; !ok {
			slots = append(slots, slot)
		}
		bySlot[slot] = append(bySlot[slot], i)
	}
	written := 0
	for _, slot := range slots {
		idx := bySlot[slot]
		n, err := b.writeGroup(cfg, string(b.key(idx[0])), idx)
		written += n
		var reply redis.Error
		if errors.As(err, &reply) {
			// Too few replicas: this group is sent again, the others go on.
			if b.round.server == nil {
				b.round.server = err
			}
			continue
		}
		if err != nil {
			b.conclude(now, nil, true)
			return written, err
		}
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

// writeGroup pipelines the commands idx, which share a slot, to its node.
// Replies go to settle; an error is returned only when the group's
// connection failed, or too few replicas took its writes (the group is
// then sent again).
func (b *batch) writeGroup(cfg *redisconn.Config, key string, idx []int) (int, error) {
	conn, err := cfg.ClusterConn(key)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if b.idem != nil {
		// Loaded on the node in every write: see writeConn.
		if err := conn.Send("SCRIPT", "LOAD", idemScript); err != nil {
			cfg.RefreshCluster()
			return 0, err
		}
	}
	b.group(idx)
	for _, u := range b.units {
		name, args := b.call(u)
		if err := conn.Send(name, args...); err != nil {
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
	written := 0
	released := len(b.round.released)
	if b.idem != nil {
		// A refused load is the reason of the NOSCRIPT replies, if any.
		if _, err := conn.Receive(); err != nil {
			var reply redis.Error
			if !errors.As(err, &reply) {
				cfg.RefreshCluster()
				return 0, err
			}
			b.loadErr = reply
		}
	}
	skipped := b.skipped
	for _, u := range b.units {
		v, err := conn.Receive()
		if n, ok := v.(int64); ok && err == nil && u.script {
			b.skipped += int(n)
		}
		if u.script {
			err = b.loadRefused(err)
		}
		var reply redis.Error
		if err != nil && !errors.As(err, &reply) {
			cfg.RefreshCluster()
			b.undo(idx, released)
			b.skipped = skipped
			return 0, err
		}
		if err != nil {
			if redisc.ParseRedir(err) != nil || redisc.IsTryAgain(err) {
				cfg.RefreshCluster()
			}
			err = reply
		}
		for _, i := range b.order[u.from:u.to] {
			if b.settle(i, err) {
				written++
			}
		}
	}
	if b.wait > 0 {
		n, err := redis.Int64(conn.Receive())
		if err != nil {
			b.undo(idx, released)
			return 0, err
		}
		if n < b.wait {
			// Applied on the master, not yet on enough replicas: sent
			// again later (at least once), rather than lost in a failover.
			b.undo(idx, released)
			return 0, redis.Error(fmt.Sprintf("TRYAGAIN only %d of %d replicas acknowledged the writes", n, b.wait))
		}
	}
	return written, nil
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
