// Package metricpairs lays a metric out as the field-value pairs of a Redis
// stream entry or hash, and reads it back: the "typed" layout that
// redis-output writes and redis-input reads, documented in both plugins'
// READMEs so that any client can produce and consume it.
//
//	_measurement  cpu                   the metric's name
//	_time         1795552004123456789   its time, integer nanoseconds since the epoch
//	#host         web-01                a tag: '#' then the tag key; the value as it is
//	usage         1.5                   a field: its key; the value in line protocol's
//	n             3i                    field-value syntax: 1.5 float, 3i int, 3u uint,
//	ok            true                  true/false, "text" with \" and \\ escaped;
//	msg           "disk \"sda\" full"   floats ±Inf as +Inf and -Inf
//
// The first byte of an entry field's name says what it is: '_' a field of
// the layout (only _measurement and _time exist; others are refused so
// that no data is misread), '#' a tag, '\' a metric field whose key starts
// with one of these three bytes (the '\' is dropped: the key `_id` is
// written `\_id`), anything else a metric field.
//
// Why not positional (a type per field from the order of the pairs): a
// hash has no order (HGETALL of a large hash returns any order), and HSET
// merges the metrics written at one key, so every value must carry its
// own type. Why not the entry ID as the time: IDs must increase, metric
// times need not.
package metricpairs

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// The names and markers of the layout.
const (
	NameField = "_measurement"
	TimeField = "_time"
	Reserved  = '_'  // first byte of the layout's own fields
	TagMarker = '#'  // first byte of a tag
	EscapeKey = '\\' // first byte of a field key that starts with one of these
)

// needsEscape tells whether a metric field key must be written with a
// leading '\' to be read back as a field.
func needsEscape(key []byte) bool {
	return len(key) > 0 && (key[0] == Reserved || key[0] == TagMarker || key[0] == EscapeKey)
}

// AppendFieldName appends the entry field name of a metric field key.
func AppendFieldName(dst, key []byte) []byte {
	if needsEscape(key) {
		dst = append(dst, EscapeKey)
	}
	return append(dst, key...)
}

// AppendTagName appends the entry field name of a tag key.
func AppendTagName(dst, key []byte) []byte {
	return append(append(dst, TagMarker), key...)
}

// AppendTime appends a time in nanoseconds as _time holds it.
func AppendTime(dst []byte, ns int64) []byte {
	return strconv.AppendInt(dst, ns, 10)
}

// AppendValue appends a field value in line protocol's field-value syntax.
// NaN is refused: Telegraf has no NaN fields, and line protocol none to
// write.
func AppendValue(dst []byte, f *metricline.Field) ([]byte, error) {
	switch f.Kind {
	case metricline.Decimal:
		// Text already in the shortest plain form, within the range
		// AppendFloat writes plain (1e-6 to 1e21), is what it would write:
		// copied, not parsed and formatted again.
		if intDigits, fracZeros, ok := lineprotocol.ShortestDecimal(f.Str); ok && intDigits <= 21 && fracZeros <= 5 {
			return append(dst, f.Str...), nil
		}
		fallthrough
	case metricline.Float:
		v, ok := f.Number()
		if !ok {
			return dst, fmt.Errorf("field %q: number %q is out of the float64 range", f.Key, f.Str)
		}
		return AppendFloat(dst, v)
	case metricline.Int:
		return append(strconv.AppendInt(dst, f.Int, 10), 'i'), nil
	case metricline.Uint:
		return append(strconv.AppendUint(dst, f.Uint, 10), 'u'), nil
	case metricline.Bool:
		return strconv.AppendBool(dst, f.Bool), nil
	case metricline.String:
		return AppendString(dst, f.Str), nil
	}
	return dst, fmt.Errorf("field %q: unknown kind %d", f.Key, f.Kind)
}

// AppendFloat writes v so that strconv.ParseFloat reads back the same
// float64, sign of zero included: the shortest decimal, plain between 1e-6
// and 1e21, with an exponent outside (5e-324, not 324 digits); +Inf, -Inf.
func AppendFloat(dst []byte, v float64) ([]byte, error) {
	switch {
	case math.IsNaN(v):
		return dst, errors.New("a NaN is not a field value")
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...), nil
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...), nil
	}
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(dst, v, 'e', -1, 64), nil
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64), nil
}

// AppendString writes s as a line protocol string field: in double
// quotes, with '"' and '\' escaped by a '\'. Everything else, newlines
// included, is written as it is.
func AppendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for {
		i := bytes.IndexAny(s, `"\`)
		if i < 0 {
			break
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, '\\', s[i])
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, '"')
}
