package redis_consumer

import (
	"bytes"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/influxdata/telegraf/filter"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricpairs"
)

// typedWriter writes the pairs of a stream entry in the typed layout
// (package metricpairs) straight to line protocol: what typedMetric and
// the encoder write, without metricpairs.Decode's maps, the
// telegraf.Metric and a string for every name and value: 5 us and 58
// allocations an entry of ten fields and five tags that way, 1 us and
// none this way (BenchmarkPairsTyped, BenchmarkTypedWriter). Names, tags
// and values point into the reply; only strings with escapes and
// tag_keys values are copied, into a buffer kept from entry to entry.
//
// It only takes entries that follow the layout. One that breaks it (or
// gives no line) is left to the reference path, pairsMetric and the
// serializer, which refuses it with metricpairs' words: such entries are
// rare, each costs an E! line anyway, and the wording stays in one place.
// TestTypedLinesAsBefore and FuzzTypedLinesAsBefore hold it to that path:
// the same bytes for every entry it takes, and it takes every entry that
// path writes. Used by one loop only.
type typedWriter struct {
	tags *tagKeys
	m    metricline.Metric
	enc  lineprotocol.Encoder
	// asTags: fields named by tag_keys, as tags; they go after the '#'
	// tags, so that one replaces a '#' tag of the same key, as in
	// typedMetric.
	asTags []metricline.Tag
	text   []byte   // unescaped strings, tag_keys values as text
	keys   [][]byte // for the check of keys given twice
}

func newTypedWriter(tagFilter filter.Filter) *typedWriter {
	return &typedWriter{tags: newTagKeys(tagFilter)}
}

// append appends the line of pairs and a newline; def is the time when
// the entry has no _time. ok is false, and buf returned as it was, when
// the entry is not one it takes (see typedWriter).
func (w *typedWriter) append(buf []byte, pairs [][]byte, def time.Time) (out []byte, ok bool) {
	if !w.decode(pairs, def) {
		return buf, false
	}
	out, err := w.enc.AppendMetric(buf, &w.m)
	if err != nil { // every field +Inf or -Inf: line protocol has none
		return buf, false
	}
	return append(out, '\n'), true
}

// decode reads pairs into w.m, as metricpairs.Decode and typedMetric
// read them; false where they give an error.
func (w *typedWriter) decode(pairs [][]byte, def time.Time) bool {
	if len(pairs)%2 != 0 {
		return false
	}
	m := &w.m
	m.Name, m.Tags, m.Fields, m.Time = nil, m.Tags[:0], m.Fields[:0], def.UnixNano()
	w.asTags, w.text = w.asTags[:0], w.text[:0]
	hasName, hasTime := false, false
	for i := 0; i < len(pairs); i += 2 {
		name, value := pairs[i], pairs[i+1]
		if len(name) == 0 {
			return false
		}
		switch name[0] {
		case metricpairs.Reserved:
			switch string(name) {
			case metricpairs.NameField:
				if hasName || len(value) == 0 {
					return false
				}
				m.Name, hasName = value, true
			case metricpairs.TimeField:
				t, ok := typedTime(value)
				if hasTime || !ok {
					return false
				}
				m.Time, hasTime = t, true
			default:
				return false
			}
		case metricpairs.TagMarker:
			if len(name) == 1 {
				return false
			}
			m.Tags = append(m.Tags, metricline.Tag{Key: name[1:], Value: value})
		default:
			key := name
			if key[0] == metricpairs.EscapeKey {
				key = key[1:]
			}
			if len(key) == 0 {
				return false
			}
			f, ok := w.value(key, value)
			if !ok {
				return false
			}
			if w.tags.match(key) {
				w.asTags = append(w.asTags, metricline.Tag{Key: key, Value: w.tagText(&f)})
			} else {
				m.Fields = append(m.Fields, f)
			}
		}
	}
	if !hasName || len(m.Fields) == 0 || !w.unique() {
		return false
	}
	m.Tags = append(m.Tags, w.asTags...)
	return true
}

// unique reports whether no tag key and no field key (tag_keys' included)
// is given twice: Decode refuses both. Keys found in ascending order are
// marked so, and the encoder does not look at their order again.
func (w *typedWriter) unique() bool {
	m := &w.m
	w.keys = w.keys[:0]
	for i := range m.Tags {
		w.keys = append(w.keys, m.Tags[i].Key)
	}
	var ok bool
	if ok, m.TagsSorted = uniqueKeys(w.keys); !ok {
		return false
	}
	w.keys = w.keys[:0]
	for i := range m.Fields {
		w.keys = append(w.keys, m.Fields[i].Key)
	}
	for i := range w.asTags {
		w.keys = append(w.keys, w.asTags[i].Key)
	}
	ok, m.FieldsSorted = uniqueKeys(w.keys)
	if len(w.asTags) > 0 { // the tags get more, the fields had fewer
		m.TagsSorted, m.FieldsSorted = false, false
	}
	return ok
}

// uniqueKeys reports whether keys holds no key twice, and whether they
// were in strictly ascending order (redis-output writes them so: one
// pass); it may sort keys.
func uniqueKeys(keys [][]byte) (unique, ascending bool) {
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) >= 0 {
			slices.SortFunc(keys, bytes.Compare)
			for j := 1; j < len(keys); j++ {
				if bytes.Equal(keys[j-1], keys[j]) {
					return false, false
				}
			}
			return true, false
		}
	}
	return true, true
}

// value reads a field value with metricpairs.ReadValue, ParseValue's
// reader, without an allocation; false where it gives an error.
func (w *typedWriter) value(key, v []byte) (metricline.Field, bool) {
	f := metricline.Field{Key: key}
	var err error
	w.text, err = metricpairs.ReadValue(&f, v, w.text)
	return f, err == nil
}

// tagText is tagText (fields.go) for a decoded value: a string as it is,
// a number in decimal ('g', as Telegraf formats floats in tags), a bool
// as true or false.
func (w *typedWriter) tagText(f *metricline.Field) []byte {
	start := len(w.text)
	switch f.Kind {
	case metricline.String:
		return f.Str
	case metricline.Decimal:
		x, _ := strconv.ParseFloat(unsafeString(f.Str), 64)
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

// typedTime reads _time as metricpairs.ParseTime does.
func typedTime(v []byte) (int64, bool) {
	if !metricpairs.Integer(v, true) {
		return 0, false
	}
	t, err := strconv.ParseInt(unsafeString(v), 10, 64)
	return t, err == nil
}

// unsafeString is b as a string without a copy, for strconv's parsers,
// which keep nothing.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
