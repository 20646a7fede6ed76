package redis_consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/mna/redisc"
)

// gatherCluster is a gather of keys mode on a Redis Cluster: SCAN walks
// one node's keys, so every master of the slot map is walked, one after
// the other, on a connection of its own; a key is read once, however many
// nodes list it (during a migration, the source and the target). A key a
// node answers MOVED or ASK for (its slot moved, or is moving) is read
// at the end from the node serving it, following the redirections; the
// slot map is then reloaded for the next gather, as after a node failed.
func (k *keyScan) gatherCluster(seen map[string]bool, g *keysGather) error {
	cfg := &k.p.Config
	lay := cfg.ClusterLayout()
	if len(lay.Masters) == 0 {
		cfg.RefreshCluster()
		return errors.New("no master of the cluster is known: no node answered CLUSTER SLOTS")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(k.p.Timeout))
	defer cancel()
	for _, addr := range lay.Masters {
		conn, err := cfg.NodeConn(ctx, addr)
		if err != nil {
			cfg.RefreshCluster()
			return err
		}
		err = k.scan(conn, seen, g)
		cfg.PutNodeConn(conn, err == nil)
		if err != nil {
			cfg.RefreshCluster()
			return fmt.Errorf("scanning cluster node %s: %w", addr, err)
		}
	}
	if len(g.redirected) == 0 {
		return nil
	}
	cfg.RefreshCluster()
	for _, key := range g.redirected {
		if seen[key] {
			continue // read on the node it moved to, or here already
		}
		seen[key] = true
		if err := k.readRedirected(key, g); err != nil {
			return err
		}
	}
	return nil
}

// readRedirected reads one key from the node serving it, following MOVED
// and ASK (with ASKING) as often as the slot moves meanwhile.
func (k *keyScan) readRedirected(key string, g *keysGather) error {
	bound, err := k.p.ClusterConn(key)
	if err != nil {
		return err
	}
	defer bound.Close()
	conn, err := redisc.RetryConn(bound, 5, 100*time.Millisecond)
	if err != nil {
		return err
	}
	pipe := func(n int, command func(int) (string, []any)) ([]any, error) {
		replies := make([]any, n)
		for i := range replies {
			name, args := command(i)
			r, err := conn.Do(name, args...)
			var re redis.Error
			switch {
			case errors.As(err, &re):
				replies[i] = re
			case err != nil:
				return nil, err
			default:
				replies[i] = r
			}
		}
		return replies, nil
	}
	err = k.read(pipe, []string{key}, g)
	if len(g.moved) > 0 {
		// Still redirected after every attempt: the migration goes on.
		g.moved = g.moved[:0]
		if err == nil {
			err = fmt.Errorf("key %q: its slot kept moving while it was read", key)
		}
	}
	return err
}
