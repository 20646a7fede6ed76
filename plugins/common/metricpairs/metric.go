package metricpairs

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/filter"
	"github.com/influxdata/telegraf/metric"
)

// Pairs read into Telegraf's own types: a telegraf.Metric (ToMetric, in
// either layout), or a Metric of maps (Decode). The writers (TypedWriter,
// FlatWriter) go from the pairs to line protocol without them.

// ToMetric makes one metric of the pairs of a stream entry or a hash, with
// the given tags added: in the typed layout as TypedMetric reads it, else
// in the flat one as FlatMetric does, named measurement and timed def.
func ToMetric(measurement string, pairs [][]byte, tags map[string]string, tagFilter filter.Filter, def time.Time) (telegraf.Metric, error) {
	if Typed(pairs) {
		return TypedMetric(pairs, tags, tagFilter, def)
	}
	return FlatMetric(measurement, pairs, tags, tagFilter, def)
}

// TypedMetric reads pairs in the typed layout into a telegraf.Metric:
// name, time, tags and fields with their types as redis-output wrote
// them. The time is def only when _time is missing. Fields named by
// tagFilter (tag_keys) become tags, their value as text (TagText). Tags
// given by the caller replace the metric's own of the same name, as
// channel_tag does in subscribe mode.
func TypedMetric(pairs [][]byte, tags map[string]string, tagFilter filter.Filter, def time.Time) (telegraf.Metric, error) {
	d, err := Decode(pairs)
	if err != nil {
		return nil, err
	}
	t := def
	if d.HasTime {
		t = time.Unix(0, d.Time)
	}
	if tagFilter != nil {
		for k, v := range d.Fields {
			if tagFilter.Match(k) {
				d.Tags[k] = TagText(v)
				delete(d.Fields, k)
			}
		}
		if len(d.Fields) == 0 {
			return nil, errors.New("no fields (all are tag_keys)")
		}
	}
	for k, v := range tags {
		d.Tags[k] = v
	}
	return metric.New(d.Name, d.Tags, d.Fields, t), nil
}

// TagText is a typed field value as a tag value: a string as it is, a
// number in decimal ('g', as Telegraf formats floats in tags), a boolean
// as true or false.
func TagText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// FlatMetric makes one metric named name and timed t of pairs in the flat
// layout, with the given tags added.
func FlatMetric(name string, pairs [][]byte, tags map[string]string, tagFilter filter.Filter, t time.Time) (telegraf.Metric, error) {
	if len(pairs)%2 != 0 {
		return nil, errors.New("odd number of field names and values")
	}
	if tags == nil {
		tags = make(map[string]string)
	}
	fields := make(map[string]any, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		k, v := string(pairs[i]), string(pairs[i+1])
		switch {
		case k == "":
		case tagFilter != nil && tagFilter.Match(k):
			tags[k] = v
		default:
			fields[k] = FlatValue(v)
		}
	}
	if len(fields) == 0 {
		return nil, errors.New("no fields")
	}
	return metric.New(name, tags, fields, t), nil
}

// FlatValue is v as a float64 when it is a plain decimal number, else v.
func FlatValue(v string) any {
	if !Decimal(v) {
		return v
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) {
		return v // out of the float64 range: keep the text rather than lose it
	}
	return f
}

// Metric is a metric read from pairs in the typed layout.
type Metric struct {
	Name    string
	Tags    map[string]string
	Fields  map[string]any
	Time    int64 // nanoseconds since the epoch, when HasTime
	HasTime bool  // _time was there; else the reader picks the time
}

// Decode reads pairs in the typed layout (see Reader.Read) into a Metric
// of its own: every name and value is copied out of the pairs.
func Decode(pairs [][]byte) (*Metric, error) {
	r := readers.Get().(*Reader)
	defer r.release()
	if err := r.Read(pairs, 0); err != nil {
		return nil, err
	}
	m := &Metric{Name: string(r.M.Name), Tags: make(map[string]string, len(r.M.Tags)),
		Fields: make(map[string]any, len(r.M.Fields)), Time: r.M.Time, HasTime: r.hasTime}
	for _, t := range r.M.Tags {
		m.Tags[string(t.Key)] = string(t.Value)
	}
	for i := range r.M.Fields {
		m.Fields[string(r.M.Fields[i].Key)] = fieldValue(&r.M.Fields[i])
	}
	return m, nil
}

// readers keeps the Readers of Decode, whose buffers then serve again:
// nothing Decode returns points into them.
var readers = sync.Pool{New: func() any { return new(Reader) }}

// release drops what r points to in the pairs it read, so that a pooled
// Reader does not keep them alive, and puts r back in readers.
func (r *Reader) release() {
	r.M.Name = nil
	clear(r.M.Tags)
	clear(r.M.Fields)
	clear(r.keys)
	readers.Put(r)
}

// Typed reports whether pairs (name, value, name, value, ...) are in the
// typed layout: they hold _measurement or _time. Entries and hashes
// written before the layout existed (or by other clients) hold neither,
// and are read by the older rule.
func Typed(pairs [][]byte) bool {
	for i := 0; i < len(pairs); i += 2 {
		if n := pairs[i]; len(n) > 0 && n[0] == Reserved && (string(n) == NameField || string(n) == TimeField) {
			return true
		}
	}
	return false
}
