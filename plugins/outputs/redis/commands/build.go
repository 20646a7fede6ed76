package commands

import (
	"errors"
	"fmt"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricpairs"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/keytemplate"
)

// perMetric builds the commands of the per-metric modes. Each metric gives
// one write command at a key rendered from the template, and maybe a
// trimming or expiring command after it.
type perMetric struct {
	opts       *Options
	key        *keytemplate.Template
	serializer Serializer
	batch      BatchSerializer // use_batch_format
	expireMs   string
	maxlen     string
	listMax    string
}

// fork returns a copy of p with a serializer and key template of its own.
func (p *perMetric) fork() (*perMetric, error) {
	q := *p
	q.key = p.key.Clone()
	switch {
	case p.opts.serializes() && p.opts.Batch != nil:
		s, err := p.opts.Batch()
		if err != nil {
			return nil, err
		}
		q.batch, q.serializer = s, &presetSerializer{}
	case p.opts.serializes():
		s, err := p.opts.Serializer()
		if err != nil {
			return nil, err
		}
		q.serializer = s
	}
	return &q, nil
}

// builder is the command builder of p's mode.
func (p *perMetric) builder() func(b *batch, m *metricline.Metric) error {
	switch p.opts.Mode {
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

func (p *perMetric) renderKey(b *batch, m *metricline.Metric) error {
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
func (p *perMetric) serialized(b *batch, m *metricline.Metric) error {
	from := b.argStart()
	var err error
	if b.arena, err = p.serializer.AppendMetric(b.arena, m); err != nil {
		return fmt.Errorf("serializing: %w", err)
	}
	b.argEnd(from)
	return nil
}

// pairs appends the metric as entry field names and values, in the
// layout chosen.
func (p *perMetric) pairs(b *batch, m *metricline.Metric) error {
	if len(m.Fields) == 0 {
		return fmt.Errorf("metric %q has no fields to write", m.Name)
	}
	if p.opts.Layout == LayoutFlat {
		p.flatPairs(b, m)
		return nil
	}
	return p.typedPairs(b, m)
}

// typedPairs appends _measurement, _time, the tags ('#' and the key) and
// the fields (values in line protocol's field-value syntax). A metric the
// layout cannot hold (an empty key, a NaN) is refused whole, before any of
// it is written; the caller takes back what was appended.
func (*perMetric) typedPairs(b *batch, m *metricline.Metric) error {
	if len(m.Name) == 0 {
		return errors.New("metric without a name")
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
func (p *perMetric) flatPairs(b *batch, m *metricline.Metric) {
	if p.opts.IncludeTags {
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

func (p *perMetric) expire(b *batch) {
	if p.expireMs == "" {
		return
	}
	b.begin("PEXPIRE")
	b.argBytes(b.lastKey())
	b.arg(p.expireMs)
}

// hash: HSET key field value ... [PEXPIRE key ms]
func (p *perMetric) hash(b *batch, m *metricline.Metric) error {
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
// (with deduplicate, run by the script of idem.go)
func (p *perMetric) stream(b *batch, m *metricline.Metric) error {
	b.begin("XADD")
	b.markIdem(m)
	if err := p.renderKey(b, m); err != nil {
		return err
	}
	if p.opts.StreamMaxlen > 0 {
		b.arg("MAXLEN")
		b.arg("~")
		b.arg(p.maxlen)
	}
	b.arg("*")
	if p.opts.PayloadField != "" {
		b.arg(p.opts.PayloadField)
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
func (p *perMetric) publish(b *batch, m *metricline.Metric) error {
	b.begin("PUBLISH")
	if err := p.renderKey(b, m); err != nil {
		return err
	}
	return p.serialized(b, m)
}

// list: RPUSH key <serialized> [LTRIM key -n -1] [PEXPIRE key ms] (with
// deduplicate, the RPUSH run by the script of idem.go)
func (p *perMetric) list(b *batch, m *metricline.Metric) error {
	b.begin("RPUSH")
	b.markIdem(m)
	if err := p.renderKey(b, m); err != nil {
		return err
	}
	if err := p.serialized(b, m); err != nil {
		return err
	}
	if p.opts.ListMaxLength > 0 {
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
func (p *perMetric) string(b *batch, m *metricline.Metric) error {
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
