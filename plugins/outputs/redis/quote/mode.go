package quote

import (
	"context"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// Mode is quote mode as a writer.Mode: its batches merge prices into the
// document, and it counts what they did not write, and why.
type Mode struct {
	opts *Options
	// wait, when > 0, makes a merge count only once that many replicas
	// acknowledged it (WAIT); waitMs is WAIT's own timeout.
	wait, waitMs int64
	stats        Stats
}

// NewMode returns quote mode with opts, waiting for wait replicas after
// each merge (none when 0).
func NewMode(opts *Options, wait, waitMs int64) *Mode {
	return &Mode{opts: opts, wait: wait, waitMs: waitMs}
}

// NewBatch returns an empty batch of m.
func (m *Mode) NewBatch() writer.Batch { return &modeBatch{Batch: NewBatch(m.opts), mode: m} }

// Stats are what m's writes did not write, and why.
func (m *Mode) Stats() *Stats { return &m.stats }

// Summary is quote mode's part of the exit line.
func (m *Mode) Summary() string { return m.stats.Summary() }

// modeBatch is a Batch as a writer.Batch.
type modeBatch struct {
	*Batch
	mode *Mode
}

func (q *modeBatch) Absorb(newer writer.Batch) { q.Batch.Absorb(newer.(*modeBatch).Batch) }

// Write merges the batch into the document and, once it is there,
// empties the batch. On error the batch stays whole: the merge is
// idempotent, so a shortfall of replicas merges it again.
func (q *modeBatch) Write(ctx context.Context, to *writer.Target) (writer.Result, error) {
	var res writer.Result
	var out Outcome
	err := to.Client.RunContext(ctx, func(c redis.Conn) error {
		res.Handed = true
		o, err := q.Batch.Write(ctx, c)
		if err != nil {
			return err
		}
		if o.Updates > 0 && q.mode.wait > 0 {
			if err := redisconn.WaitReplicas(ctx, c, q.mode.wait, q.mode.waitMs); err != nil {
				return err
			}
		}
		out = o
		return nil
	})
	if err != nil {
		return res, err
	}
	q.mode.stats.count(&out)
	res.Updates, res.Written = out.Updates, out.Written
	res.Settled = out.Superseded + out.Refused + out.NoPrice
	res.Warnings, res.Infos = out.Warnings, out.Infos
	q.Batch.Reset()
	return res, nil
}

// Commands is the EVALSHA the batch's write would run.
func (q *modeBatch) Commands() []string {
	if q.Coins() == 0 {
		return nil
	}
	args := q.Args()
	words := make([]interface{}, 0, len(args)+3)
	words = append(words, "EVALSHA", Script.Hash(), 5)
	words = append(words, args...)
	return []string{redisconn.FormatCommand(words)}
}

// A quote batch holds no metric back for a key: what a merge does not
// take is settled, not retried.

func (*modeBatch) Stamp(int64) {}

func (*modeBatch) Since(end int64) int64 { return end }

func (q *modeBatch) Next(now time.Time) time.Time {
	if q.Metrics() == 0 {
		return time.Time{}
	}
	return now
}

func (*modeBatch) Held() int { return 0 }

func (*modeBatch) RetryNow() {}
