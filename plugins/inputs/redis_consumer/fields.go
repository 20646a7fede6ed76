package redis_consumer

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/filter"
	"github.com/influxdata/telegraf/metric"
)

// fieldsMetric makes one metric of the field-value pairs of a stream entry
// or a hash (Redis returns them flat: f1, v1, f2, v2, ...).
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
func decimal(s string) bool {
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
