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
	"unsafe"

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
		if intDigits, fracZeros, ok := metricline.ShortestDecimal(f.Str); ok && intDigits <= 21 && fracZeros <= 5 {
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
		return dst, errors.New("NaN is not a field value")
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

// Metric is a metric read from pairs in the typed layout.
type Metric struct {
	Name    string
	Tags    map[string]string
	Fields  map[string]any
	Time    int64 // nanoseconds since the epoch, when HasTime
	HasTime bool  // _time was there; else the reader picks the time
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

// Decode reads pairs in the typed layout. Every name and value must follow
// the layout: an unknown '_' field, a value outside the grammar, a name
// given twice or a metric without a name or a field is an error naming it,
// never a metric with something left out.
func Decode(pairs [][]byte) (*Metric, error) {
	if len(pairs)%2 != 0 {
		return nil, errors.New("odd number of field names and values")
	}
	m := &Metric{Tags: map[string]string{}, Fields: make(map[string]any, len(pairs)/2)}
	hasName := false
	for i := 0; i < len(pairs); i += 2 {
		name, value := pairs[i], pairs[i+1]
		if len(name) == 0 {
			return nil, errors.New("an entry field has an empty name")
		}
		switch name[0] {
		case Reserved:
			switch string(name) {
			case NameField:
				if hasName {
					return nil, fmt.Errorf("%s given twice", NameField)
				}
				if len(value) == 0 {
					return nil, fmt.Errorf("%s is empty", NameField)
				}
				m.Name, hasName = string(value), true
			case TimeField:
				if m.HasTime {
					return nil, fmt.Errorf("%s given twice", TimeField)
				}
				t, err := ParseTime(value)
				if err != nil {
					return nil, err
				}
				m.Time, m.HasTime = t, true
			default:
				return nil, fmt.Errorf(`field %q: names starting with '_' are reserved for the layout (write a field key "_x" as "\\_x")`, name)
			}
		case TagMarker:
			key := string(name[1:])
			if key == "" {
				return nil, errors.New(`tag "#" has an empty key`)
			}
			if _, dup := m.Tags[key]; dup {
				return nil, fmt.Errorf("tag %q given twice", key)
			}
			m.Tags[key] = string(value)
		default:
			key := name
			if key[0] == EscapeKey {
				key = key[1:]
			}
			if len(key) == 0 {
				return nil, fmt.Errorf("field %q has an empty key", name)
			}
			v, err := ParseValue(value)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", key, err)
			}
			if _, dup := m.Fields[string(key)]; dup {
				return nil, fmt.Errorf("field %q given twice", key)
			}
			m.Fields[string(key)] = v
		}
	}
	if !hasName {
		return nil, fmt.Errorf("no %s field (the typed layout needs one beside %s)", NameField, TimeField)
	}
	if len(m.Fields) == 0 {
		return nil, errors.New("no fields")
	}
	return m, nil
}

// ParseTime reads _time: a decimal integer of nanoseconds.
func ParseTime(v []byte) (int64, error) {
	if !Integer(v, true) {
		return 0, fmt.Errorf("%s %q is not an integer number of nanoseconds", TimeField, v)
	}
	t, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q is out of range (year 1678 to 2262)", TimeField, v)
	}
	return t, nil
}

// ParseValue reads a field value in line protocol's field-value syntax:
// float64, int64, uint64, bool or string.
func ParseValue(v []byte) (any, error) {
	var f metricline.Field
	if _, err := ReadValue(&f, v, nil); err != nil {
		return nil, err
	}
	switch f.Kind {
	case metricline.String:
		return string(f.Str), nil
	case metricline.Decimal:
		return strconv.ParseFloat(unsafeString(f.Str), 64) // finite: ReadValue checked
	case metricline.Int:
		return f.Int, nil
	case metricline.Uint:
		return f.Uint, nil
	case metricline.Bool:
		return f.Bool, nil
	}
	return f.Float, nil
}

// ReadValue is ParseValue without an allocation, for readers that convert
// entries straight to line protocol: the value into f (all but its Key,
// which it leaves as it is). A string without escapes, and a decimal already in
// float64's shortest form (Kind Decimal, which the encoders copy), point
// into v; an escaped string is unescaped onto the end of scratch, which is
// returned, grown. Only an error allocates.
func ReadValue(f *metricline.Field, v, scratch []byte) ([]byte, error) {
	*f = metricline.Field{Key: f.Key}
	if len(v) == 0 {
		return scratch, errors.New("empty value (a string is written in double quotes)")
	}
	switch last := v[len(v)-1]; {
	case v[0] == '"':
		var err error
		f.Kind = metricline.String
		f.Str, scratch, err = readString(v, scratch)
		return scratch, err
	case last == 'i' && Integer(v[:len(v)-1], true):
		n, err := strconv.ParseInt(unsafeString(v[:len(v)-1]), 10, 64)
		if err != nil {
			return scratch, fmt.Errorf("integer %q is out of the int64 range", v)
		}
		f.Kind, f.Int = metricline.Int, n
		return scratch, nil
	case last == 'u' && Integer(v[:len(v)-1], false):
		n, err := strconv.ParseUint(unsafeString(v[:len(v)-1]), 10, 64)
		if err != nil {
			return scratch, fmt.Errorf("unsigned integer %q is out of the uint64 range", v)
		}
		f.Kind, f.Uint = metricline.Uint, n
		return scratch, nil
	}
	switch string(v) {
	case "true", "t", "T", "True", "TRUE":
		f.Kind, f.Bool = metricline.Bool, true
		return scratch, nil
	case "false", "f", "F", "False", "FALSE":
		f.Kind, f.Bool = metricline.Bool, false
		return scratch, nil
	case "+Inf":
		f.Kind, f.Float = metricline.Float, math.Inf(1)
		return scratch, nil
	case "-Inf":
		f.Kind, f.Float = metricline.Float, math.Inf(-1)
		return scratch, nil
	}
	if !decimal(v) {
		return scratch, fmt.Errorf(`%q is not a value of the layout (1.5, 3i, 3u, true, "text", +Inf)`, v)
	}
	if _, _, ok := metricline.ShortestDecimal(v); ok {
		f.Kind, f.Str = metricline.Decimal, v
		return scratch, nil
	}
	x, err := strconv.ParseFloat(unsafeString(v), 64)
	if err != nil {
		return scratch, fmt.Errorf("number %q is out of the float64 range", v)
	}
	f.Kind, f.Float = metricline.Float, x
	return scratch, nil
}

// readString reads "text": '\"' is '"', '\\' is '\', and a '\' before
// any other byte is kept, as line protocol parsers do. An unescaped '"'
// inside, or no closing one, is an error. Text without escapes is v's own
// bytes; else it is unescaped onto scratch. Earlier slices of scratch stay
// valid if the append moves it: they keep the old array, which nothing
// writes to again.
func readString(v, scratch []byte) ([]byte, []byte, error) {
	if len(v) < 2 || v[len(v)-1] != '"' {
		return nil, scratch, errors.New("string without its closing double quote")
	}
	in := v[1 : len(v)-1]
	if bytes.IndexAny(in, `"\`) < 0 {
		return in, scratch, nil
	}
	start := len(scratch)
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '"':
			return nil, scratch[:start], fmt.Errorf("string has an unescaped double quote at byte %d", i+1)
		case c == '\\' && i+1 < len(in) && (in[i+1] == '"' || in[i+1] == '\\'):
			scratch = append(scratch, in[i+1])
			i++
		case c == '\\' && i+1 == len(in):
			return nil, scratch[:start], errors.New("string without its closing double quote (the last one is escaped)")
		default:
			scratch = append(scratch, c)
		}
	}
	return scratch[start:len(scratch):len(scratch)], scratch, nil
}

// unsafeString is b as a string without a copy, for strconv's parsers,
// which keep nothing.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Integer reports whether s is [-]digits (the '-' only when signed): the
// text of the layout's integers, unsigned integers and times.
func Integer(s []byte, signed bool) bool {
	if signed && len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// decimal reports whether s looks like [+-]digits[.digits][e[+-]digits]:
// ParseFloat alone would also take "NaN", "Inf", "0x1p3" and "1_000".
func decimal(s []byte) bool {
	digits := false
	for i, c := range s {
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
