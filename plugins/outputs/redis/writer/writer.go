// Package writer is what a write mode offers the execd run loop and the
// built-in Write: batches that take decoded metrics and write them to
// Redis, each write telling what it did. Every mode family (quote mode,
// the per-metric commands) implements it, so that no caller needs to
// know which mode it writes.
package writer

import (
	"context"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// Mode makes the batches of one write mode.
type Mode interface {
	// NewBatch returns an empty batch. The batches of one Mode share what
	// the mode keeps between writes (the keys Redis refused, its
	// statistics), so one Mode serves one run.
	NewBatch() Batch
	// Summary is the mode's own part of the exit line ("" for none).
	Summary() string
}

// Batch is what a write mode holds between two writes to Redis.
type Batch interface {
	// Add takes one decoded metric; an error refuses that metric alone.
	Add(m *metricline.Metric) error
	// Metrics counts the metrics held: taken since the last Reset and
	// not yet written.
	Metrics() int
	// Absorb folds newer, a batch of the same Mode read after this one,
	// into it and empties newer.
	Absorb(newer Batch)
	// Write sends the batch and takes out of it what Redis took; what is
	// left (all of it on most errors) is for the next Write.
	Write(ctx context.Context, to *Target) (Result, error)
	// Commands describes what Write would send, for -test.
	Commands() []string
	// Reset empties the batch, keeping its memory.
	Reset()

	Ledger
}

// Ledger is what a batch tells the run loop about the spool and the keys
// Redis refused: how far the lines read are in Redis, and when to retry.
type Ledger interface {
	// Stamp tells the batch that the metrics added since the last Stamp
	// came from lines at or after offset in the spool.
	Stamp(offset int64)
	// Since is the spool offset up to which every line is in Redis, when
	// the lines read end at end: end, or before it while the batch still
	// holds metrics of earlier lines (waiting for a refused key).
	Since(end int64) int64
	// Next tells when a write has something to send: now when something
	// may go at once, the earliest retry of a refused key otherwise, and
	// the zero time for an empty batch.
	Next(now time.Time) time.Time
	// Held counts the metrics that wait for a key Redis refused.
	Held() int
	// RetryNow makes every refused key due for its next attempt (at a
	// stop, for one last try).
	RetryNow()
}

// Target is where a batch is written, and who is told how far it got.
type Target struct {
	Client *redisconn.Client
	Config *redisconn.Config // Client's, for the writes routed per key in a cluster
	// Progress, when set, is told after each pipelined part of a write
	// how many metrics of it Redis took, so the reader may go on while the
	// rest of a large batch is still on its way.
	Progress func(metrics int)
}

// Result is what one Write did.
type Result struct {
	Updates int // Redis updates that went through
	Written int // metrics now in Redis (quote mode: whose price reached the document)
	// Settled counts the metrics that left the batch without being
	// written, for a reason the mode counts in its own statistics (quote
	// mode: superseded by a newer price, refused, without a price).
	Settled int
	// Handed tells whether the batch reached a connection: when Write
	// fails, what was handed may be in Redis; a failed dial sent nothing.
	Handed bool
	// Lines for the log, worded, naming the key (quote mode: prices
	// refused, coins aged out, entries repaired).
	Warnings, Infos []string
}
