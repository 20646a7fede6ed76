package metricpairs

import (
	"strconv"
	"time"

	"github.com/influxdata/telegraf/filter"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// TypedWriter writes pairs in the typed layout straight to line
// protocol: what TypedMetric and the encoder write, without the maps, the
// telegraf.Metric and a string for every name and value. Names, tags and
// values point into the pairs; only strings with escapes and tag_keys
// values are copied, into a buffer kept from pairs to pairs. It is not
// safe for concurrent use.
type TypedWriter struct {
	r    Reader
	tags *tagKeys
	enc  lineprotocol.Encoder
	// asTags: fields named by tag_keys, as tags; they go after the '#'
	// tags, so that one replaces a '#' tag of the same key, as in
	// TypedMetric.
	asTags []metricline.Tag
	text   []byte // tag_keys values as text
}

// NewTypedWriter makes fields named by tagFilter (tag_keys; nil: none)
// tags.
func NewTypedWriter(tagFilter filter.Filter) *TypedWriter {
	return &TypedWriter{tags: newTagKeys(tagFilter)}
}

// SetTrims has the tags cut of trailing backslashes named to t (see
// lineprotocol.Encoder.Trims).
func (w *TypedWriter) SetTrims(t *lineprotocol.Trims) { w.enc.Trims = t }

// Append appends the line of pairs and a newline; def is the time when
// the pairs have no _time. ok is false, and buf returned as it was, when
// the pairs break the layout or give no line: TypedMetric, and the
// serializer, then say why.
func (w *TypedWriter) Append(buf []byte, pairs [][]byte, def time.Time) (out []byte, ok bool) {
	if w.r.Read(pairs, def.UnixNano()) != nil || !w.splitTags() {
		return buf, false
	}
	out, err := w.enc.AppendMetric(buf, &w.r.M)
	if err != nil { // every field +Inf or -Inf: line protocol has none
		return buf, false
	}
	return append(out, '\n'), true
}

// splitTags makes the fields named by tag_keys tags; false when no field
// is left.
func (w *TypedWriter) splitTags() bool {
	if w.tags == nil {
		return true
	}
	m := &w.r.M
	w.asTags, w.text = w.asTags[:0], w.text[:0]
	fields := m.Fields[:0]
	for i := range m.Fields {
		f := m.Fields[i]
		if w.tags.match(f.Key) {
			w.asTags = append(w.asTags, metricline.Tag{Key: f.Key, Value: w.tagText(&f)})
		} else {
			fields = append(fields, f)
		}
	}
	m.Fields = fields
	if len(w.asTags) > 0 { // the tags get more, the fields had fewer
		m.Tags = append(m.Tags, w.asTags...)
		m.TagsSorted, m.FieldsSorted = false, false
	}
	return len(m.Fields) > 0
}

// tagText is TagText for a decoded value.
func (w *TypedWriter) tagText(f *metricline.Field) []byte {
	start := len(w.text)
	switch f.Kind {
	case metricline.String:
		return f.Str
	case metricline.Decimal:
		x, _ := f.Number()
		w.text = strconv.AppendFloat(w.text, x, 'g', -1, 64)
	case metricline.Float:
		w.text = strconv.AppendFloat(w.text, f.Float, 'g', -1, 64)
	case metricline.Int:
		w.text = strconv.AppendInt(w.text, f.Int, 10)
	case metricline.Uint:
		w.text = strconv.AppendUint(w.text, f.Uint, 10)
	case metricline.Bool:
		w.text = strconv.AppendBool(w.text, f.Bool)
	}
	return w.text[start:len(w.text):len(w.text)]
}
