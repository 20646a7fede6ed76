package redisconn

import (
	"context"
	"fmt"

	"github.com/gomodule/redigo/redis"
)

// WaitReplicas runs WAIT on c: an error when fewer than n replicas have
// every write of this connection so far after ms milliseconds. The error
// is a reply (TRYAGAIN), so the write is retried like any refusal.
func WaitReplicas(ctx context.Context, c redis.Conn, n, ms int64) error {
	got, err := redis.Int64(redis.DoContext(c, ctx, "WAIT", n, ms))
	if err != nil {
		return err
	}
	if got < n {
		return redis.Error(fmt.Sprintf("TRYAGAIN only %d of %d replicas acknowledged the writes", got, n))
	}
	return nil
}
