package redis

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/commands"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/keytemplate"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// initPerMetric checks the options of the per-metric modes and prepares
// their writer (package commands).
func (r *Redis) initPerMetric() error {
	if _, err := keytemplate.Parse(r.Key); err != nil {
		return fmt.Errorf("option key: %w", err)
	}
	if r.StreamMaxlen < 0 {
		return fmt.Errorf("option stream_maxlen: %d is negative", r.StreamMaxlen)
	}
	if r.ListMaxLength < 0 {
		return fmt.Errorf("option list_max_length: %d is negative", r.ListMaxLength)
	}
	if err := r.checkLayout(); err != nil {
		return err
	}
	if err := r.checkSerializer(); err != nil {
		return err
	}
	idem, err := r.idem()
	if err != nil {
		return err
	}
	// trims names the tags cut of trailing backslashes by the line
	// protocol serializers of every batch, once per tag key.
	var trims *lineprotocol.Trims
	if r.Log != nil {
		trims = lineprotocol.NewTrims(r.Log.Warnf)
	}
	opts := commands.Options{
		Mode:          r.Mode,
		Key:           r.Key,
		Expire:        time.Duration(r.Expire),
		StreamMaxlen:  r.StreamMaxlen,
		PayloadField:  r.PayloadField,
		ListMaxLength: r.ListMaxLength,
		Layout:        r.Layout,
		IncludeTags:   r.IncludeTags,
		Serializer:    func() (commands.Serializer, error) { return r.newSerializer(trims) },
		Batch:         r.batchSerializer(),
		WaitReplicas:  int64(r.WaitReplicas),
		WaitMs:        r.waitMs(),
		Log:           r.Log,
		Endpoint:      r.Endpoint(),
		Idem:          idem,
	}
	if _, err := commands.NewMode(&opts); err != nil {
		return err
	}
	r.newMode = func() writer.Mode {
		run := opts
		// The execd loop holds the keys Redis refuses; built in, a
		// refusal fails the write and Telegraf keeps the batch.
		run.HoldRefused = !r.builtIn
		run.HoldMax = r.policy.Backoff()
		m, err := commands.NewMode(&run)
		if err != nil {
			// Init made a mode with the same options and succeeded.
			panic(fmt.Sprintf("making the write mode: %v", err))
		}
		return m
	}
	return nil
}

// checkLayout refuses layout and include_tags where they mean nothing:
// include_tags only shapes the flat layout (the typed one always writes
// the tags), and with payload_field the entry holds the serialized metric.
func (r *Redis) checkLayout() error {
	if r.Layout != LayoutTyped && r.Layout != LayoutFlat {
		return fmt.Errorf("option layout: %q is not supported (want %q or %q)", r.Layout, LayoutTyped, LayoutFlat)
	}
	pairs := r.Mode == "hash" || (r.Mode == "stream" && r.PayloadField == "")
	if r.Layout != LayoutTyped && !pairs {
		if r.Mode == "stream" {
			return errors.New("option layout: not read with payload_field (the entry holds the serialized metric)")
		}
		return fmt.Errorf("option layout: only read in hash and stream modes (mode is %q)", r.Mode)
	}
	if r.IncludeTags && (!pairs || r.Layout == LayoutTyped) {
		return errors.New(`option include_tags: only read with layout = "flat" in hash and stream modes; ` +
			`the typed layout (the default) always writes the tags, as "#<key>" fields: ` +
			`remove include_tags, or set layout = "flat" to keep writing what earlier versions wrote`)
	}
	return nil
}

// idem checks the deduplicate options and returns what idempotent writes
// need, or nil when the mode does not write idempotently. The producer id
// is made of what names this writer's output (the server, the key
// template, the mode, the spool), so that every run of the same
// configuration finds the ids the previous one applied.
func (r *Redis) idem() (*commands.Idem, error) {
	if !dedupes(r) {
		return nil, nil
	}
	if r.DeduplicateWindow <= 0 {
		return nil, fmt.Errorf("option deduplicate_window: %s is not positive", time.Duration(r.DeduplicateWindow))
	}
	// The memory must hold every id a replay or a retry can send again:
	// one script call's ids, and under execd the metrics in flight (what
	// a restart replays from the spool). Built in, Telegraf's batch is
	// Telegraf's own metric_batch_size, which the README asks to keep
	// below deduplicate_max_ids.
	least, why := commands.PipelineChunk, "the metrics one write sends to a key at once"
	if !r.builtIn && r.MaxUndeliveredMetrics > least {
		least, why = r.MaxUndeliveredMetrics, "max_undelivered_metrics, the metrics a restart may replay"
	}
	if r.DeduplicateMaxIDs < least {
		return nil, fmt.Errorf("option deduplicate_max_ids: %d is below %d (%s): a replay could then write twice what it sent before",
			r.DeduplicateMaxIDs, least, why)
	}
	spool := r.SpoolDir
	if spool != "" {
		if abs, err := filepath.Abs(spool); err == nil {
			spool = abs
		}
	}
	return &commands.Idem{
		Producer: commands.ProducerID(r.Endpoint(), r.Mode, r.Key, spool),
		Window:   time.Duration(r.DeduplicateWindow),
		MaxIDs:   r.DeduplicateMaxIDs,
	}, nil
}
