package redis_consumer

import (
	"errors"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/influxdata/telegraf/filter"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// flatWriter writes the pairs of a stream entry in the flat layout
// straight to line protocol: what fieldsMetric and the encoder write,
// without the telegraf.Metric, its maps and a string for every name and
// value (7 us an entry of ten fields before, most of it allocation).
// TestFlatLinesAsBefore holds it to that path. Entries in the typed
// layout have their own writer, typedWriter (typedline.go); both share
// tagKeys. Used by one loop only.
type flatWriter struct {
	name []byte
	tags *tagKeys
	m    metricline.Metric
	enc  lineprotocol.Encoder
}

func newFlatWriter(measurement string, tagFilter filter.Filter) *flatWriter {
	return &flatWriter{name: []byte(measurement), tags: newTagKeys(tagFilter)}
}

// append appends the line of pairs (name, value, ...) timed t, and a
// newline; on error buf is returned as it was.
func (w *flatWriter) append(buf []byte, pairs [][]byte, t time.Time) ([]byte, error) {
	if len(pairs)%2 != 0 {
		return buf, errors.New("odd number of field names and values")
	}
	m := &w.m
	m.Name, m.Tags, m.Fields = w.name, m.Tags[:0], m.Fields[:0]
	for i := 0; i < len(pairs); i += 2 {
		k, v := pairs[i], pairs[i+1]
		switch {
		case len(k) == 0:
		case w.tags.match(k):
			m.Tags = append(m.Tags, metricline.Tag{Key: k, Value: v})
		default:
			m.Fields = append(m.Fields, flatField(k, v))
		}
	}
	if len(m.Fields) == 0 {
		return buf, errors.New("no fields")
	}
	m.Time = t.UnixNano()
	// Keys given twice: the encoder keeps the last, as the maps did.
	out, err := w.enc.AppendMetric(buf, m)
	if err != nil {
		return buf, err
	}
	return append(out, '\n'), nil
}

// tagKeys is tag_keys for field names as bytes, each name matched once
// (a glob match costs more than the rest of a field); nil matches nothing.
type tagKeys struct {
	filter filter.Filter
	is     map[string]bool // matched, by field name
}

// maxTagCache bounds is: entries with ever new field names cost a match
// each once it is full and cleared, not memory.
const maxTagCache = 4096

func newTagKeys(f filter.Filter) *tagKeys {
	if f == nil {
		return nil
	}
	return &tagKeys{filter: f, is: map[string]bool{}}
}

func (t *tagKeys) match(k []byte) bool {
	if t == nil {
		return false
	}
	is, ok := t.is[string(k)]
	if !ok {
		if len(t.is) >= maxTagCache {
			clear(t.is)
		}
		is = t.filter.Match(string(k))
		t.is[string(k)] = is
	}
	return is
}

// flatField is fieldValue for bytes: a decimal number is a float (its text
// kept when it is the float's shortest form, which the encoder copies),
// anything else a string.
func flatField(k, v []byte) metricline.Field {
	if decimal(v) {
		if _, _, ok := metricline.ShortestDecimal(v); ok {
			return metricline.Field{Key: k, Kind: metricline.Decimal, Str: v}
		}
		if f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(v), len(v)), 64); err == nil && !math.IsInf(f, 0) {
			return metricline.Field{Key: k, Kind: metricline.Float, Float: f}
		}
	}
	return metricline.Field{Key: k, Kind: metricline.String, Str: v}
}
