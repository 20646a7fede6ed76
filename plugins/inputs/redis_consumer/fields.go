package redis_consumer

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/filter"
	"github.com/influxdata/telegraf/metric"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricpairs"
)

// pairsMetric makes one metric of the field-value pairs of a stream entry
// or a hash (Redis returns them flat: f1, v1, f2, v2, ...), with the given
// tags added (key_tag). Pairs in the typed layout (they hold _measurement
// or _time) carry the whole metric; others are read by the flat rule of
// earlier versions, the metric named measurement and timed def.
func (p *RedisConsumer) pairsMetric(pairs [][]byte, tags map[string]string, def time.Time) (telegraf.Metric, error) {
	if metricpairs.Typed(pairs) {
		return typedMetric(pairs, tags, p.tagFilter, def)
	}
	return fieldsMetric(p.Measurement, pairs, tags, p.tagFilter, def)
}

// typedMetric reads pairs in the typed layout (package metricpairs): name,
// time, tags and fields with their types as redis-output wrote them. The
// time is def only when _time is missing. Fields named by tag_keys become
// tags here too, their value as text. Tags given by the caller replace the
// metric's own of the same name, as channel_tag does in subscribe mode.
func typedMetric(pairs [][]byte, tags map[string]string, tagFilter filter.Filter, def time.Time) (telegraf.Metric, error) {
	d, err := metricpairs.Decode(pairs)
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
				d.Tags[k] = tagText(v)
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

// tagText is a typed field value as a tag value: a string as it is, a
// number in decimal, a boolean as true or false.
func tagText(v any) string {
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

// fieldsMetric makes one metric of pairs in the flat layout: what
// redis-output wrote before the typed layout (and writes with layout =
// "flat"), or what another client wrote.
//
// The rule: a field named by tag_keys becomes a tag; a value that is a
// decimal number becomes a float64; any other value stays a string field.
// Every number is a float, as with Telegraf's JSON parser, so that a field
// never changes type between one entry and the next ("5" then "5.5"), which
// InfluxDB would refuse. Fields with an empty name are left out.
func fieldsMetric(name string, pairs [][]byte, tags map[string]string, tagFilter filter.Filter, t time.Time) (telegraf.Metric, error) {
	if len(pairs)%2 != 0 {
		return nil, errors.New("odd number of field names and values")
	}
	if tags == nil {
		tags = map[string]string{}
	}
	fields := make(map[string]any, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		k, v := string(pairs[i]), string(pairs[i+1])
		switch {
		case k == "":
		case tagFilter != nil && tagFilter.Match(k):
			tags[k] = v
		default:
			fields[k] = fieldValue(v)
		}
	}
	if len(fields) == 0 {
		return nil, errors.New("no fields")
	}
	return metric.New(name, tags, fields, t), nil
}

// fieldValue is v as a float64 when it is a plain decimal number, else v.
func fieldValue(v string) any {
	if !decimal(v) {
		return v
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) {
		return v // out of the float64 range: keep the text rather than lose it
	}
	return f
}

// decimal reports whether s looks like [+-]digits[.digits][e[+-]digits]:
// ParseFloat alone would also take "NaN", "Inf", "0x1p3" and "1_000".
func decimal[T string | []byte](s T) bool {
	digits := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E':
		case (c == '+' || c == '-') && (i == 0 || s[i-1] == 'e' || s[i-1] == 'E'):
		default:
			return false
		}
	}
	return digits
}
