package redis

import (
	"fmt"
	"strconv"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricjson"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricpairs"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/keytemplate"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// perMetric builds the commands of the per-metric modes. Each metric gives
// one write command at a key rendered from the template, and maybe a
// trimming or expiring command after it.
type perMetric struct {
	r          *Redis
	key        *keytemplate.Template
	serializer appendFunc
	expireMs   string
	maxlen     string
	listMax    string
	// trims names the tags cut of trailing backslashes by the line
	// protocol serializers of every batch, once per tag key.
	trims *lineprotocol.Trims
}

func (r *Redis) initPerMetric() error {
	key, err := keytemplate.Parse(r.Key)
	if err != nil {
		return fmt.Errorf("option key: %w", err)
	}
	p := &perMetric{r: r, key: key}
	if r.Log != nil {
		p.trims = lineprotocol.NewTrims(r.Log.Warnf)
	}
	if r.Expire > 0 {
		p.expireMs = strconv.FormatInt(max(1, time.Duration(r.Expire).Milliseconds()), 10)
	}
	if r.StreamMaxlen < 0 {
		return fmt.Errorf("option stream_maxlen: %d is negative", r.StreamMaxlen)
	}
	if r.ListMaxLength < 0 {
		return fmt.Errorf("option list_max_length: %d is negative", r.ListMaxLength)
	}
	p.maxlen = strconv.Itoa(r.StreamMaxlen)
	if err := r.checkLayout(); err != nil {
		return err
	}
	p.listMax = strconv.Itoa(r.ListMaxLength)

	if _, err := p.fork(); err != nil {
		return err
	}
	wait, waitMs := int64(r.WaitReplicas), r.waitMs()
	r.newMode = func() writer.Mode {
		m := &commandMode{p: p, wait: wait, waitMs: waitMs}
		if !r.builtIn {
			// The execd loop holds the keys Redis refuses; built in, a
			// refusal fails the write and Telegraf keeps the batch.
			m.holds = newHolds(r.Log, r.Endpoint(), r.policy.backoff())
		}
		return m
	}
	return nil
}

// commandMode is the per-metric modes as a writer.Mode.
type commandMode struct {
	p            *perMetric
	wait, waitMs int64
	holds        *holds // the keys Redis refused (execd only)
}

// NewBatch returns an empty batch. Every batch builds with state of its
// own (the serializer's scratch, the key template's buffer): batches are
// filled on several goroutines at once when decoding is parallel.
func (m *commandMode) NewBatch() writer.Batch {
	q, _ := m.p.fork() // it worked once, with the same options
	return newCommandBatch(q.builder(), m.wait, m.waitMs, m.holds)
}

// Summary is empty: the per-metric modes count nothing of their own.
func (m *commandMode) Summary() string { return "" }

// fork returns a copy of p with a serializer and key template of its own.
func (p *perMetric) fork() (*perMetric, error) {
	q := *p
	q.key = p.key.Clone()
	r := p.r
	if r.Mode == "publish" || r.Mode == "list" || r.Mode == "string" || (r.Mode == "stream" && r.PayloadField != "") {
		s, err := r.newSerializer(p.trims)
		if err != nil {
			return nil, err
		}
		q.serializer = s
	}
	return &q, nil
}

// builder is the command builder of p's mode.
func (p *perMetric) builder() func(b *commandBatch, m *metricline.Metric) error {
	switch p.r.Mode {
	case "hash":
		return p.hash
	case "stream":
		return p.stream
	case "publish":
		return p.publish
	case "list":
		return p.list
	}
	return p.string
}

// appendFunc appends a metric as data_format gives it, without the
// trailing newline.
type appendFunc func(dst []byte, m *metricline.Metric) ([]byte, error)

// newSerializer returns our own serializers, byte for byte what Telegraf's
// json (json_timestamp_units, json_timestamp_format) and influx
// (influx_sort_fields, influx_uint_support) serializers write, without a
// telegraf.Metric or an allocation per metric. The influx one refuses a
// metric Telegraf's parser would not read back from that line
// (lineprotocol.CarryError), and names the tags it cuts to trims.
func (r *Redis) newSerializer(trims *lineprotocol.Trims) (appendFunc, error) {
	switch r.DataFormat {
	case "json":
		e := metricjson.New(time.Duration(r.JSONTimestampUnits), r.JSONTimestampFormat)
		return func(dst []byte, m *metricline.Metric) ([]byte, error) { return e.AppendMetric(dst, m), nil }, nil
	case "", "influx":
		e := &lineprotocol.Encoder{Trims: trims}
		return e.AppendMetric, nil
	}
	return nil, fmt.Errorf(`option data_format: %q is not supported (want "influx" or "json")`, r.DataFormat)
}

func (p *perMetric) renderKey(b *commandBatch, m *metricline.Metric) error {
	var err error
	from := b.argStart()
	b.arena, err = p.key.Append(b.arena, m)
	if err != nil {
		return err
	}
	if len(b.arena) == from {
		return fmt.Errorf("key template %q gives an empty key", p.key)
	}
	b.argEnd(from)
	return nil
}

// serialized appends the metric as data_format gives it, without the
// trailing newline.
func (p *perMetric) serialized(b *commandBatch, m *metricline.Metric) error {
	from := b.argStart()
	var err error
	if b.arena, err = p.serializer(b.arena, m); err != nil {
		return fmt.Errorf("serializing: %w", err)
	}
	b.argEnd(from)
	return nil
}

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
			return fmt.Errorf("option layout: not read with payload_field (the entry holds the serialized metric)")
		}
		return fmt.Errorf("option layout: only read in hash and stream modes (mode is %q)", r.Mode)
	}
	if r.IncludeTags && (!pairs || r.Layout == LayoutTyped) {
		return fmt.Errorf(`option include_tags: only read with layout = "flat" in hash and stream modes; the typed layout (the default) always writes the tags, as "#<key>" fields: remove include_tags, or set layout = "flat" to keep writing what earlier versions wrote`)
	}
	return nil
}

// pairs appends the metric as entry field names and values, in the
// layout chosen.
func (p *perMetric) pairs(b *commandBatch, m *metricline.Metric) error {
	if len(m.Fields) == 0 {
		return fmt.Errorf("metric %q has no fields to write", m.Name)
	}
	if p.r.Layout == LayoutFlat {
		p.flatPairs(b, m)
		return nil
	}
	return p.typedPairs(b, m)
}

// typedPairs appends _measurement, _time, the tags ('#' and the key) and
// the fields (values in line protocol's field-value syntax). A metric the
// layout cannot hold (an empty key, a NaN) is refused whole, before any of
// it is written; the caller takes back what was appended.
func (p *perMetric) typedPairs(b *commandBatch, m *metricline.Metric) error {
	if len(m.Name) == 0 {
		return fmt.Errorf("metric without a name")
	}
	b.arg(metricpairs.NameField)
	b.argBytes(m.Name)
	b.arg(metricpairs.TimeField)
	from := b.argStart()
	b.arena = metricpairs.AppendTime(b.arena, m.Time)
	b.argEnd(from)
	for _, t := range m.Tags {
		if len(t.Key) == 0 {
			return fmt.Errorf("metric %q: tag with an empty key", m.Name)
		}
		from := b.argStart()
		b.arena = metricpairs.AppendTagName(b.arena, t.Key)
		b.argEnd(from)
		b.argBytes(t.Value)
	}
	for i := range m.Fields {
		f := &m.Fields[i]
		if len(f.Key) == 0 {
			return fmt.Errorf("metric %q: field with an empty key", m.Name)
		}
		from := b.argStart()
		b.arena = metricpairs.AppendFieldName(b.arena, f.Key)
		b.argEnd(from)
		from = b.argStart()
		var err error
		if b.arena, err = metricpairs.AppendValue(b.arena, f); err != nil {
			return fmt.Errorf("metric %q: field %q: %w", m.Name, f.Key, err)
		}
		b.argEnd(from)
	}
	return nil
}

// flatPairs appends tags (with include_tags) then fields as name/value
// arguments, values as bare text; a field wins over a tag of the same
// name, being written last.
func (p *perMetric) flatPairs(b *commandBatch, m *metricline.Metric) {
	if p.r.IncludeTags {
		for _, t := range m.Tags {
			b.argBytes(t.Key)
			b.argBytes(t.Value)
		}
	}
	for i := range m.Fields {
		f := &m.Fields[i]
		b.argBytes(f.Key)
		from := b.argStart()
		b.arena = keytemplate.AppendValue(b.arena, f)
		b.argEnd(from)
	}
}

func (p *perMetric) expire(b *commandBatch) {
	if p.expireMs == "" {
		return
	}
	b.begin("PEXPIRE")
	b.argBytes(b.lastKey())
	b.arg(p.expireMs)
}

// hash: HSET key field value ... [PEXPIRE key ms]
func (p *perMetric) hash(b *commandBatch, m *metricline.Metric) error {
	b.begin("HSET")
	if err := p.renderKey(b, m); err != nil {
		return err
	}
	if err := p.pairs(b, m); err != nil {
		return err
	}
	p.expire(b)
	return nil
}

// stream: XADD key [MAXLEN ~ n] * field value ... | payload <serialized>
func (p *perMetric) stream(b *commandBatch, m *metricline.Metric) error {
	b.begin("XADD")
	if err := p.renderKey(b, m); err != nil {
		return err
	}
	if p.r.StreamMaxlen > 0 {
		b.arg("MAXLEN")
		b.arg("~")
		b.arg(p.maxlen)
	}
	b.arg("*")
	if p.r.PayloadField != "" {
		b.arg(p.r.PayloadField)
		if err := p.serialized(b, m); err != nil {
			return err
		}
	} else if err := p.pairs(b, m); err != nil {
		return err
	}
	p.expire(b)
	return nil
}

// publish: PUBLISH channel <serialized>
func (p *perMetric) publish(b *commandBatch, m *metricline.Metric) error {
	b.begin("PUBLISH")
	if err := p.renderKey(b, m); err != nil {
		return err
	}
	return p.serialized(b, m)
}

// list: RPUSH key <serialized> [LTRIM key -n -1] [PEXPIRE key ms]
func (p *perMetric) list(b *commandBatch, m *metricline.Metric) error {
	b.begin("RPUSH")
	if err := p.renderKey(b, m); err != nil {
		return err
	}
	if err := p.serialized(b, m); err != nil {
		return err
	}
	if p.r.ListMaxLength > 0 {
		key := b.lastKey()
		b.begin("LTRIM")
		b.argBytes(key)
		b.arg("-" + p.listMax)
		b.arg("-1")
	}
	p.expire(b)
	return nil
}

// string: SET key <serialized> [PX ms]
func (p *perMetric) string(b *commandBatch, m *metricline.Metric) error {
	b.begin("SET")
	if err := p.renderKey(b, m); err != nil {
		return err
	}
	if err := p.serialized(b, m); err != nil {
		return err
	}
	if p.expireMs != "" {
		b.arg("PX")
		b.arg(p.expireMs)
	}
	return nil
}
