// Package commands writes the per-metric modes (hash, stream, publish,
// list, string): each metric becomes one write command (HSET, XADD,
// PUBLISH, RPUSH, SET) at a key rendered from a template, maybe followed
// by LTRIM or PEXPIRE. A batch holds the commands' arguments in one arena
// and sends them pipelined: to one server (pipeline.go) or, in a Redis
// Cluster, to the node of each key's slot (cluster.go). In the execd loop,
// a key Redis refuses is held alone while the others are written
// (refusals.go).
package commands

import (
	"fmt"
	"strconv"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/keytemplate"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// The layouts of a hash or stream entry (option layout).
const (
	// LayoutTyped writes the whole metric, each value with its type: see
	// package metricpairs and the README's mode table.
	LayoutTyped = "typed"
	// LayoutFlat writes the fields only, values as bare text (and the tags
	// as fields with include_tags): the layout of earlier versions, for
	// consumers that read it.
	LayoutFlat = "flat"
)

// Serializer appends a metric as data_format gives it, without the
// trailing newline.
type Serializer interface {
	AppendMetric(dst []byte, m *metricline.Metric) ([]byte, error)
}

// Options are what the per-metric modes write, named as the plugin's
// options; the plugin has checked them.
type Options struct {
	Mode          string        // "hash", "stream", "publish", "list" or "string"
	Key           string        // the key template
	Expire        time.Duration // PEXPIRE (SET's PX) after each write; 0 for none
	StreamMaxlen  int           // XADD's MAXLEN ~; 0 for none
	PayloadField  string        // stream: the one field holding the serialized metric
	ListMaxLength int           // LTRIM after each RPUSH; 0 for none
	Layout        string        // LayoutTyped or LayoutFlat
	IncludeTags   bool          // flat layout: the tags as fields too
	// Serializer returns a serializer of its own for each batch, in the
	// modes that serialize (publish, list, string, stream with
	// PayloadField).
	Serializer func() (Serializer, error)
	// Batch, when set (use_batch_format), replaces Serializer: the
	// metrics of a batch for one key are written as one value (see
	// batchformat.go).
	Batch func() (BatchSerializer, error)

	// WaitReplicas, when > 0, makes a write count only once that many
	// replicas acknowledged it (WAIT); WaitMs is WAIT's own timeout.
	WaitReplicas, WaitMs int64

	// HoldRefused, in the execd loop, holds a key Redis refuses while the
	// other keys are written; without it (built in) a refusal fails the
	// write. Log and Endpoint are for the lines that say so, HoldMax the
	// longest wait between two attempts of a key.
	HoldRefused bool
	Log         telegraf.Logger
	Endpoint    string
	HoldMax     time.Duration

	// Idem, when set, makes stream and list writes idempotent (idem.go).
	Idem *Idem
}

// serializes tells whether the mode writes serialized metrics.
func (o *Options) serializes() bool {
	switch o.Mode {
	case "publish", "list", "string":
		return true
	}
	return o.Mode == "stream" && o.PayloadField != ""
}

// Mode is the per-metric modes as a writer.Mode.
type Mode struct {
	p            *perMetric
	wait, waitMs int64
	holds        *holds // the keys Redis refused (HoldRefused only)
	idem         *idemState
}

// NewMode returns the mode opts describe, or why the key template or the
// serializer cannot be made.
func NewMode(opts *Options) (*Mode, error) {
	key, err := keytemplate.Parse(opts.Key)
	if err != nil {
		return nil, fmt.Errorf("option key: %w", err)
	}
	p := &perMetric{opts: opts, key: key}
	if opts.Expire > 0 {
		p.expireMs = strconv.FormatInt(max(1, opts.Expire.Milliseconds()), 10)
	}
	p.maxlen = strconv.Itoa(opts.StreamMaxlen)
	p.listMax = strconv.Itoa(opts.ListMaxLength)
	if _, err := p.fork(); err != nil {
		return nil, err
	}
	m := &Mode{p: p, wait: opts.WaitReplicas, waitMs: opts.WaitMs}
	if opts.Mode == "stream" || opts.Mode == "list" {
		m.idem = newIdemState(opts.Idem, opts.Log)
	}
	if opts.HoldRefused {
		m.holds = newHolds(opts.Log, opts.Endpoint, opts.HoldMax)
	}
	return m, nil
}

// NewBatch returns an empty batch. Every batch builds with state of its
// own (the serializer's scratch, the key template's buffer): batches are
// filled on several goroutines at once when decoding is parallel.
func (m *Mode) NewBatch() writer.Batch {
	q, err := m.p.fork()
	if err != nil {
		// NewMode forked with the same options and succeeded.
		panic(fmt.Sprintf("forking the command builder: %v", err))
	}
	b := newBatch(q.builder(), m.wait, m.waitMs, m.holds, m.idem)
	if q.batch != nil {
		b.grouping = &grouping{ser: q.batch, build: b.build, preset: q.serializer.(*presetSerializer), log: q.opts.Log, byKey: make(map[string]int)}
		b.build = q.collect
	}
	return b
}

// Summary counts, with deduplicate, the writes skipped as already applied.
func (m *Mode) Summary() string {
	if m.idem == nil {
		return ""
	}
	return fmt.Sprintf("; skipped %d writes already in Redis (deduplicate)", m.idem.skipped.Load())
}

// Skipped counts the writes skipped as already applied (deduplicate).
func (m *Mode) Skipped() int64 {
	if m.idem == nil {
		return 0
	}
	return m.idem.skipped.Load()
}
