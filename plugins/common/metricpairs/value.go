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
	return fieldValue(&f), nil
}

// fieldValue is f's value as Telegraf holds it; a Decimal parsed without
// a copy of its text.
func fieldValue(f *metricline.Field) any {
	if f.Kind == metricline.Decimal {
		x, _ := f.Number() // finite: ReadValue checked
		return x
	}
	return f.Value()
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
		n, err := strconv.ParseInt(string(v[:len(v)-1]), 10, 64)
		if err != nil {
			return scratch, fmt.Errorf("integer %q is out of the int64 range", v)
		}
		f.Kind, f.Int = metricline.Int, n
		return scratch, nil
	case last == 'u' && Integer(v[:len(v)-1], false):
		n, err := strconv.ParseUint(string(v[:len(v)-1]), 10, 64)
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
	if !Decimal(v) {
		return scratch, fmt.Errorf(`%q is not a value of the layout (1.5, 3i, 3u, true, "text", +Inf)`, v)
	}
	if _, _, ok := lineprotocol.ShortestDecimal(v); ok {
		f.Kind, f.Str = metricline.Decimal, v
		return scratch, nil
	}
	x, err := strconv.ParseFloat(string(v), 64)
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
func readString(v, scratch []byte) (text, grown []byte, err error) {
	if len(v) < 2 || v[len(v)-1] != '"' {
		return nil, scratch, errors.New("string without its closing double quote")
	}
	in := v[1 : len(v)-1]
	if !bytes.ContainsAny(in, `"\`) {
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

// Decimal reports whether s looks like [+-]digits[.digits][e[+-]digits]:
// ParseFloat alone would also take "NaN", "Inf", "0x1p3" and "1_000".
func Decimal[T string | []byte](s T) bool {
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
