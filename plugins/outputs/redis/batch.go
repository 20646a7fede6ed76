package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/quote"
)

// batch is what a write mode holds between two writes to Redis.
type batch interface {
	// Add takes one decoded metric; an error refuses that metric alone.
	Add(m *metricline.Metric) error
	// Metrics counts the metrics taken since the last Reset.
	Metrics() int
	// Absorb folds a batch read later into this one and empties it.
	Absorb(newer batch)
	// Write sends the batch; on error it is left whole, to be retried.
	Write(ctx context.Context, c redis.Conn) (updates int, err error)
	// Commands describes what Write would send, for -test.
	Commands() []string
	Reset()
}

// quoteBatch adapts quote.Batch.
type quoteBatch struct {
	*quote.Batch
	wait, waitMs int64
}

func (q *quoteBatch) Absorb(newer batch) { q.Batch.Absorb(newer.(*quoteBatch).Batch) }

func (q *quoteBatch) Write(ctx context.Context, c redis.Conn) (int, error) {
	if q.Coins() == 0 {
		return 0, nil
	}
	if _, err := q.Batch.Write(ctx, c); err != nil {
		return 0, err
	}
	if q.wait > 0 {
		// The batch stays until Reset, so a shortfall merges it again:
		// the merge is idempotent.
		if err := waitReplicas(ctx, c, q.wait, q.waitMs); err != nil {
			return 0, err
		}
	}
	return 1, nil
}

func (q *quoteBatch) Commands() []string {
	if q.Coins() == 0 {
		return nil
	}
	args := q.Args()
	words := make([]interface{}, 0, len(args)+3)
	words = append(words, "EVALSHA", quote.Script.Hash(), 5)
	words = append(words, args...)
	return []string{formatCommand(words)}
}

// formatCommand prints a command the way redis-cli would take it.
func formatCommand(words []interface{}) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		var s string
		switch v := w.(type) {
		case string:
			s = v
		case []byte:
			s = string(v)
		default:
			s = fmt.Sprint(v)
		}
		if s == "" || strings.ContainsAny(s, " \"'\\\t\r\n") {
			s = strconv.Quote(s)
		}
		b.WriteString(s)
	}
	return b.String()
}
