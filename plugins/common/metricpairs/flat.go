package metricpairs

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/influxdata/telegraf/filter"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// The flat layout is what redis-output wrote before the typed layout (and
// writes with layout = "flat"), or what another client wrote: pairs of
// field names and values as text, named and timed by the reader.
//
// The rule: a field named by tag_keys becomes a tag; a value that is a
// decimal number becomes a float64; any other value stays a string field.
// Every number is a float, as with Telegraf's JSON parser, so that a field
// never changes type between one entry and the next ("5" then "5.5"), which
// InfluxDB would refuse. Fields with an empty name are left out.

// FlatWriter writes pairs in the flat layout straight to line protocol:
// what FlatMetric and the encoder write, without the telegraf.Metric, its
// maps and a string for every name and value. It is not safe for
// concurrent use.
type FlatWriter struct {
	name []byte
	tags *tagKeys
	m    metricline.Metric
	enc  lineprotocol.Encoder
}

// NewFlatWriter names the metrics measurement, and makes fields named by
// tagFilter (tag_keys; nil: none) tags.
func NewFlatWriter(measurement string, tagFilter filter.Filter) *FlatWriter {
	return &FlatWriter{name: []byte(measurement), tags: newTagKeys(tagFilter)}
}

// SetTrims has the tags cut of trailing backslashes named to t (see
// lineprotocol.Encoder.Trims).
func (w *FlatWriter) SetTrims(t *lineprotocol.Trims) { w.enc.Trims = t }

// Append appends the line of pairs (name, value, ...) timed t, and a
// newline; on error buf is returned as it was.
func (w *FlatWriter) Append(buf []byte, pairs [][]byte, t time.Time) ([]byte, error) {
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

// flatField is FlatValue for bytes: a decimal number is a float (its text
// kept when it is the float's shortest form, which the encoder copies),
// anything else a string.
func flatField(k, v []byte) metricline.Field {
	if Decimal(v) {
		if _, _, ok := lineprotocol.ShortestDecimal(v); ok {
			return metricline.Field{Key: k, Kind: metricline.Decimal, Str: v}
		}
		if f, err := strconv.ParseFloat(string(v), 64); err == nil && !math.IsInf(f, 0) {
			return metricline.Field{Key: k, Kind: metricline.Float, Float: f}
		}
	}
	return metricline.Field{Key: k, Kind: metricline.String, Str: v}
}

// tagKeys is tag_keys for field names as bytes, each name matched once
// (a glob match costs more than the rest of a field); nil matches nothing.
type tagKeys struct {
	filter filter.Filter
	is     map[string]bool // matched, by field name
}

// maxTagCache bounds is: pairs with ever new field names cost a match
// each once it is full and cleared, not memory.
const maxTagCache = 4096

func newTagKeys(f filter.Filter) *tagKeys {
	if f == nil {
		return nil
	}
	return &tagKeys{filter: f, is: make(map[string]bool)}
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
