package metricjson

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Encoder appends metrics as Telegraf JSON. Not safe for concurrent use.
type Encoder struct {
	units   int64  // nanoseconds per timestamp unit, a power of ten
	format  string // Go time layout; "" for a number of units
	order   metricline.Canonical
	timeBuf []byte
}

// New returns an encoder for json_timestamp_units (rounded down to a power
// of ten, 1s when zero or less, as Telegraf does) and json_timestamp_format.
func New(units time.Duration, format string) *Encoder {
	if units <= 0 {
		units = time.Second
	}
	d := time.Nanosecond
	for d*10 <= units {
		d *= 10
	}
	return &Encoder{units: int64(d), format: format}
}

// AppendMetric appends m as one JSON object, without the trailing newline.
// Fields that JSON cannot hold (NaN, ±Inf) are left out, as Telegraf does;
// a metric may end up with "fields":{}.
func (e *Encoder) AppendMetric(dst []byte, m *metricline.Metric) []byte {
	e.order.Of(m)
	dst = append(dst, `{"fields":{`...)
	first := true
	for _, i := range e.order.Fields {
		f := &m.Fields[i]
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = appendString(dst, f.Key)
		dst = append(dst, ':')
		var ok bool
		if dst, ok = appendValue(dst, f); !ok {
			dst = dst[:mark]
			continue
		}
		first = false
	}
	dst = append(dst, `},"name":`...)
	dst = appendString(dst, m.Name)
	dst = append(dst, `,"tags":{`...)
	for n, i := range e.order.Tags {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, m.Tags[i].Key)
		dst = append(dst, ':')
		dst = appendString(dst, m.Tags[i].Value)
	}
	dst = append(dst, `},"timestamp":`...)
	if e.format == "" {
		dst = strconv.AppendInt(dst, m.Time/e.units, 10)
	} else {
		e.timeBuf = time.Unix(0, m.Time).UTC().AppendFormat(e.timeBuf[:0], e.format)
		dst = appendString(dst, e.timeBuf)
	}
	return append(dst, '}')
}

func appendValue(dst []byte, f *metricline.Field) ([]byte, bool) {
	switch f.Kind {
	case metricline.Float:
		return appendFloat(dst, f.Float)
	case metricline.Decimal:
		// Text already in the shortest form, from 1e-6 to below 1e21
		// (where encoding/json writes no exponent), is what formatting
		// would give; anything else reads as Field.Value reads it:
		// ParseFloat's result, error or not.
		if intDigits, fracZeros, ok := lineprotocol.ShortestDecimal(f.Str); ok && intDigits <= 20 && fracZeros <= 5 {
			return append(dst, f.Str...), true
		}
		v, _ := f.Number()
		return appendFloat(dst, v)
	case metricline.Int:
		return strconv.AppendInt(dst, f.Int, 10), true
	case metricline.Uint:
		return strconv.AppendUint(dst, f.Uint, 10), true
	case metricline.String:
		return appendString(dst, f.Str), true
	case metricline.Bool:
		return strconv.AppendBool(dst, f.Bool), true
	}
	return dst, false
}

// appendFloat writes a float64 as encoding/json does (ES6 number to string:
// an exponent below 1e-6 and from 1e21, written without padding).
func appendFloat(dst []byte, v float64) ([]byte, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dst, false
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, v, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

const hex = "0123456789abcdef"

// appendString writes s as encoding/json writes a string with HTML
// escaping (json.Marshal's default): `"` and `\` escaped, control bytes as
// \b \f \n \r \t or \u00XX, <, > and & as \u003c \u003e \u0026, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 as \u2028 and \u2029.
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if htmlSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRune(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// htmlSafe is true for the ASCII bytes written as they are.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = true
	}
	for _, b := range `"\<>&` {
		t[b] = false
	}
	return t
}()
