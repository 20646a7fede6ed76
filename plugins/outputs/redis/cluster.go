package redis

import (
	"context"
	"errors"
	"fmt"

	"github.com/gomodule/redigo/redis"
	"github.com/mna/redisc"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

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
