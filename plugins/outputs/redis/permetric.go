package redis

import (
	"fmt"
	"strconv"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricjson"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/keytemplate"
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
	keyBuf     []byte
	valBuf     []byte
}

func (r *Redis) initPerMetric() error {
	key, err := keytemplate.Parse(r.Key)
	if err != nil {
		return fmt.Errorf("option key: %w", err)
	}
	p := &perMetric{r: r, key: key}
	if r.Expire > 0 {
		p.expireMs = strconv.FormatInt(max(1, time.Duration(r.Expire).Milliseconds()), 10)
	}
	if r.StreamMaxlen < 0 || r.ListMaxLength < 0 {
		return fmt.Errorf("options stream_maxlen and list_max_length must not be negative")
	}
	p.maxlen = strconv.Itoa(r.StreamMaxlen)
	p.listMax = strconv.Itoa(r.ListMaxLength)

	needsSerializer := r.Mode == "publish" || r.Mode == "list" || r.Mode == "string" ||
		(r.Mode == "stream" && r.PayloadField != "")
	if needsSerializer {
		s, err := r.newSerializer()
		if err != nil {
			return err
		}
		p.serializer = s
	}

	var build func(b *commandBatch, m *metricline.Metric) error
	switch r.Mode {
	case "hash":
		build = p.hash
	case "stream":
		build = p.stream
	case "publish":
		build = p.publish
	case "list":
		build = p.list
	case "string":
		build = p.string
	}
	wait, waitMs := int64(r.WaitReplicas), r.waitMs()
	r.newBatch = func() batch { return newCommandBatch(build, wait, waitMs) }
	return nil
}

// appendFunc appends a metric as data_format_out gives it, without the
// trailing newline.
type appendFunc func(dst []byte, m *metricline.Metric) ([]byte, error)

// newSerializer returns our own serializers, byte for byte what Telegraf's
// json (json_timestamp_units, json_timestamp_format) and influx
// (influx_sort_fields, influx_uint_support) serializers write, without a
// telegraf.Metric or an allocation per metric.
func (r *Redis) newSerializer() (appendFunc, error) {
	switch r.DataFormatOut {
	case "json":
		e := metricjson.New(time.Duration(r.JSONTimestampUnits), r.JSONTimestampFormat)
		return func(dst []byte, m *metricline.Metric) ([]byte, error) { return e.AppendMetric(dst, m), nil }, nil
	case "influx":
		e := &lineprotocol.Encoder{}
		return e.AppendMetric, nil
	}
	return nil, fmt.Errorf(`option data_format_out: %q is not supported (want "influx" or "json")`, r.DataFormatOut)
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

// serialized appends the metric as data_format_out gives it, without the
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

// fieldPairs appends tags (with include_tags) then fields as name/value
// arguments; a field wins over a tag of the same name, being written last.
func (p *perMetric) fieldPairs(b *commandBatch, m *metricline.Metric) {
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
	if len(m.Fields) == 0 {
		return fmt.Errorf("metric %q has no fields to write", m.Name)
	}
	b.begin("HSET")
	if err := p.renderKey(b, m); err != nil {
		return err
	}
	p.fieldPairs(b, m)
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
	} else {
		if len(m.Fields) == 0 {
			return fmt.Errorf("metric %q has no fields to write", m.Name)
		}
		p.fieldPairs(b, m)
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
