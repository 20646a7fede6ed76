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
// TestFlatLinesAsBefore holds it to that path. Used by one loop only.
type flatWriter struct {
	name      []byte
	tagFilter filter.Filter
	isTag     map[string]bool // tag_keys matched, by field name
	m         metricline.Metric
	enc       lineprotocol.Encoder
}

// maxTagCache bounds isTag: entries with ever new field names cost a
// match each once it is full and cleared, not memory.
const maxTagCache = 4096

func newFlatWriter(measurement string, tagFilter filter.Filter) *flatWriter {
	return &flatWriter{name: []byte(measurement), tagFilter: tagFilter, isTag: map[string]bool{}}
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
		case w.tag(k):
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

func (w *flatWriter) tag(k []byte) bool {
	if w.tagFilter == nil {
		return false
	}
	is, ok := w.isTag[string(k)]
	if !ok {
		if len(w.isTag) >= maxTagCache {
			clear(w.isTag)
		}
		is = w.tagFilter.Match(string(k))
		w.isTag[string(k)] = is
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
