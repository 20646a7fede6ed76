package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

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
	outcome      quote.Outcome // of the last write that succeeded
}

func (q *quoteBatch) Absorb(newer batch) { q.Batch.Absorb(newer.(*quoteBatch).Batch) }

func (q *quoteBatch) Write(ctx context.Context, c redis.Conn) (int, error) {
	out, err := q.Batch.Write(ctx, c)
	if err != nil {
		return 0, err
	}
	if out.Updates > 0 && q.wait > 0 {
		// The batch stays until Reset, so a shortfall merges it again:
		// the merge is idempotent.
		if err := waitReplicas(ctx, c, q.wait, q.waitMs); err != nil {
			return 0, err
		}
	}
	q.outcome = out
	return out.Updates, nil
}

// QuoteStats count what quote mode did not write, and why: every metric
// read is written, superseded, refused or without a price.
type QuoteStats struct {
	Superseded atomic.Int64                   // metrics whose prices were all replaced by newer ones before a write
	Refused    atomic.Int64                   // metrics whose prices were all refused
	NoPrice    atomic.Int64                   // metrics with no field named like a price
	Prices     [quote.NumReasons]atomic.Int64 // prices refused, by quote.Reason
	AgedOut    atomic.Int64                   // coins dropped by age_out
	Repaired   atomic.Int64                   // stored entries repaired or dropped
}

// Accounted is the metrics written, or not written for a reason counted
// in Quote: once the input is all written, every metric read.
func (s *Stats) Accounted() int64 {
	q := &s.Quote
	return s.Written.Load() + q.Superseded.Load() + q.Refused.Load() + q.NoPrice.Load()
}

// wrote counts in stats a batch that reached Redis: its n metrics, or for
// a quote batch what its write reported, and logs the lines it asked for
// (prices refused, coins aged out, entries repaired): the execd loop and
// the built-in Write both report them.
func (r *Redis) wrote(stats *Stats, b batch, n int) {
	q, ok := b.(*quoteBatch)
	if !ok {
		stats.Written.Add(int64(n))
		return
	}
	o, s := &q.outcome, &stats.Quote
	stats.Written.Add(int64(o.Written))
	s.Superseded.Add(int64(o.Superseded))
	s.Refused.Add(int64(o.Refused))
	s.NoPrice.Add(int64(o.NoPrice))
	for r := range o.Refusals {
		s.Prices[r].Add(int64(o.Refusals[r].Count))
	}
	s.AgedOut.Add(int64(o.Aged.Count))
	s.Repaired.Add(int64(o.Repaired))
	for _, w := range o.Warnings {
		r.Log.Warn(w)
	}
	for _, i := range o.Infos {
		r.Log.Info(i)
	}
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
