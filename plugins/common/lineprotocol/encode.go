package lineprotocol

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Encoder appends metrics as line protocol. It is not safe for concurrent
// use: it keeps the canonical order of the metric being written.
//
// Its zero value writes what Telegraf's influx serializer writes with
// influx_sort_fields and influx_uint_support; FieldsInOrder and UintAsInt
// are the serializer without them (its defaults).
type Encoder struct {
	order metricline.Canonical
	// Trims, if set, is told of the tags written without their trailing
	// backslashes (or left out for them), and names each key once.
	Trims *Trims
	// FieldsInOrder writes the fields in the metric's order (see
	// metricline.Canonical.InOrder), not sorted by key.
	FieldsInOrder bool
	// UintAsInt writes unsigned integers as integers ("5i"), and those
	// above the largest int64 as it, as the serializer does without
	// influx_uint_support.
	UintAsInt bool
}

// MetricError is why a whole metric cannot be written, worded as
// Telegraf's serializer words it.
type MetricError struct {
	Series string // the measurement and tags as written, if any
	Reason string
}

func (e *MetricError) Error() string {
	if e.Series != "" {
		return fmt.Sprintf("%q: %s", e.Series, e.Reason)
	}
	return e.Reason
}

// AppendMetric appends m as one line without the trailing newline: the
// name, the tags sorted by key, the fields sorted by key and the timestamp
// in nanoseconds. As in Telegraf, a tag whose key or value is empty (once
// trailing backslashes, which line protocol cannot end them with, are
// cut) is left out, and so is a field with an empty key or a NaN or
// infinite value; a metric without a name or without any field left is an
// error, and dst is returned as it was.
//
// Where Telegraf would write a line that its own parser refuses or reads
// back as another metric, the metric is refused with a *CarryError (see
// cannotCarry) and dst is returned as it was: every line written reads
// back as m, but for the tags cut as above (named to e.Trims, if set).
func (e *Encoder) AppendMetric(dst []byte, m *metricline.Metric) ([]byte, error) {
	start := len(dst)
	if len(m.Name) == 0 {
		return dst, &MetricError{Reason: "invalid name"}
	}
	if e.FieldsInOrder {
		e.order.InOrder(m)
	} else {
		e.order.Of(m)
	}
	// The bytes are Telegraf's whatever the verdict, so that a refusal of
	// Telegraf's own (no field left) names the same series.
	var bad *CarryError
	var look, trimmed bool
	dst, look = appendToken(dst, m.Name, &nameEscapes)
	if look || m.Name[0] == '#' {
		bad = check(bad, m, "measurement", nil, m.Name)
	}
	for _, i := range e.order.Tags {
		t := &m.Tags[i]
		k, v := trimBackslashes(t.Key), trimBackslashes(t.Value)
		if len(k) < len(t.Key) || len(v) < len(t.Value) {
			trimmed = true
		}
		if len(k) == 0 || len(v) == 0 {
			continue
		}
		dst = append(dst, ',')
		if dst, look = appendToken(dst, k, &keyEscapes); look {
			bad = check(bad, m, "tag key", nil, k)
		}
		dst = append(dst, '=')
		if dst, look = appendToken(dst, v, &keyEscapes); look {
			bad = check(bad, m, "tag value", k, v)
		}
	}
	dst = append(dst, ' ')
	header := len(dst)
	for _, i := range e.order.Fields {
		f := &m.Fields[i]
		if len(f.Key) == 0 {
			continue
		}
		mark := len(dst)
		if mark > header {
			dst = append(dst, ',')
		}
		dst, look = appendToken(dst, f.Key, &keyEscapes)
		dst = append(dst, '=')
		var ok bool
		if e.UintAsInt && f.Kind == metricline.Uint {
			dst, ok = append(strconv.AppendInt(dst, int64(min(f.Uint, math.MaxInt64)), 10), 'i'), true
		} else {
			dst, ok = AppendFieldValue(dst, f)
		}
		if !ok {
			dst = dst[:mark]
		} else if look {
			bad = check(bad, m, "field key", nil, f.Key)
		}
	}
	if len(dst) == header {
		series := string(bytes.TrimRight(dst[start:header], " "))
		return dst[:start], &MetricError{Series: series, Reason: "no serializable fields"}
	}
	if trimmed && bad == nil {
		bad = e.trimmedTwice(m)
	}
	if bad != nil {
		return dst[:start], bad
	}
	if trimmed && e.Trims != nil {
		e.Trims.note(m, e.order.Tags)
	}
	dst = append(dst, ' ')
	return strconv.AppendInt(dst, m.Time, 10), nil
}

// trimmedTwice refuses a metric where a tag key cut of its trailing
// backslashes is the key of another tag written: the line would hold the
// key twice, and Telegraf's parser would keep one of the values.
func (e *Encoder) trimmedTwice(m *metricline.Metric) *CarryError {
	for a, i := range e.order.Tags {
		ti := &m.Tags[i]
		ki := trimBackslashes(ti.Key)
		if len(ki) == len(ti.Key) || len(ki) == 0 || len(trimBackslashes(ti.Value)) == 0 {
			continue
		}
		for b, j := range e.order.Tags {
			tj := &m.Tags[j]
			if a != b && len(trimBackslashes(tj.Value)) > 0 && bytes.Equal(ki, trimBackslashes(tj.Key)) {
				return &CarryError{Metric: string(m.Name), What: "tag key", Text: string(ti.Key),
					Reason: fmt.Sprintf("ends in a backslash, which line protocol cannot carry, and cut it is %q, a tag key the metric has already", ki)}
			}
		}
	}
	return nil
}

// AppendFieldValue appends f's value in line protocol's field-value syntax
// as Telegraf writes it: a float in the shortest form that reads back
// exactly ("1.5", "100", never an exponent), "3i", "4u", a quoted string
// with `"` and `\` escaped, "true"/"false". ok is false, and dst unchanged,
// for a value line protocol cannot hold (NaN, ±Inf), which Telegraf leaves
// out of the line.
func AppendFieldValue(dst []byte, f *metricline.Field) ([]byte, bool) {
	switch f.Kind {
	case metricline.Float:
		return appendFloat(dst, f.Float)
	case metricline.Decimal:
		// Text already in the shortest form is what formatting would
		// give; anything else reads as Field.Value reads it: ParseFloat's
		// result, error or not.
		if _, _, ok := ShortestDecimal(f.Str); ok {
			return append(dst, f.Str...), true
		}
		v, _ := f.Number()
		return appendFloat(dst, v)
	case metricline.Int:
		return append(strconv.AppendInt(dst, f.Int, 10), 'i'), true
	case metricline.Uint:
		return append(strconv.AppendUint(dst, f.Uint, 10), 'u'), true
	case metricline.String:
		dst = append(dst, '"')
		from := 0
		for i, c := range f.Str {
			if c == '"' || c == '\\' {
				dst = append(dst, f.Str[from:i]...)
				dst = append(dst, '\\', c)
				from = i + 1
			}
		}
		dst = append(dst, f.Str[from:]...)
		return append(dst, '"'), true
	case metricline.Bool:
		return strconv.AppendBool(dst, f.Bool), true
	}
	return dst, false
}

func appendFloat(dst []byte, v float64) ([]byte, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dst, false
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64), true
}

// escapeSet marks the bytes written with a backslash before them and what
// follows it: tab, newline, form feed and carriage return become \t, \n,
// \f, \r; space, comma and (outside names) equals sign keep themselves.
// The bytes cannotCarry looks at (a backslash, a quote, a vertical tab)
// are marked toCheck: copied as they are, the token checked after.
type escapeSet [256]byte

const toCheck = 0xff

var keyEscapes, nameEscapes escapeSet

func init() {
	for _, e := range []*escapeSet{&keyEscapes, &nameEscapes} {
		e['\t'], e['\n'], e['\f'], e['\r'] = 't', 'n', 'f', 'r'
		e[' '], e[','] = ' ', ','
		e['\\'], e['"'], e['\v'] = toCheck, toCheck, toCheck
	}
	keyEscapes['='] = '='
}

// AppendTagKey appends a tag key, tag value or field key escaped as
// Telegraf's serializer escapes them (a backslash is not escaped). It
// does not check that line protocol can carry it: AppendMetric does.
func AppendTagKey(dst, s []byte) []byte {
	dst, _ = appendToken(dst, s, &keyEscapes)
	return dst
}

// AppendName appends a measurement name escaped as Telegraf escapes it,
// unchecked as AppendTagKey.
func AppendName(dst, s []byte) []byte {
	dst, _ = appendToken(dst, s, &nameEscapes)
	return dst
}

// appendToken appends s escaped as Telegraf escapes it; check is true
// when s holds a byte that cannotCarry must look at (a control byte, a
// backslash or a quote), which is rare.
func appendToken(dst, s []byte, set *escapeSet) (out []byte, check bool) {
	from := 0
	for i, c := range s {
		r := set[c]
		if r == 0 {
			continue
		}
		if r != toCheck {
			dst = append(dst, s[from:i]...)
			dst = append(dst, '\\', r)
			from = i + 1
		}
		if c < ' ' || r == toCheck {
			check = true
		}
	}
	return append(dst, s[from:]...), check
}

// trimBackslashes cuts trailing backslashes: escaping never ends in one,
// so cutting them before escaping is cutting them after, as Telegraf does.
func trimBackslashes(s []byte) []byte {
	for len(s) > 0 && s[len(s)-1] == '\\' {
		s = s[:len(s)-1]
	}
	return s
}
