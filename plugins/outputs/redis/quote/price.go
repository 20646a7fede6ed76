package quote

import (
	"math"
	"strconv"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Reading a price from a field, and writing it: what is refused, and the
// digits that are kept.

// smallestNormal is float64's smallest normal number: below it a price
// keeps fewer digits than it was given (or none: 1e-400 is 0).
const smallestNormal = 0x1p-1022

func inRange(v float64) bool {
	a := math.Abs(v)
	return a == 0 || (a >= smallestNormal && a <= math.MaxFloat64)
}

// value reads a price field: its float (0 for a lazy decimal, converted
// when written), or why it is refused. A price is never below zero; a
// negative zero ("-0", "-0.0", -0.0) is zero, and written as "0".
func value(f *metricline.Field) (float64, Reason, bool) {
	switch f.Kind {
	case metricline.Decimal:
		// The decoder refused numbers beyond float64; one that may be
		// tiny is converted now to be checked.
		if mayBeTiny(f.Str) {
			v, err := strconv.ParseFloat(string(f.Str), 64)
			if err != nil || !inRange(v) || (v == 0 && nonZero(f.Str)) {
				return 0, OutOfRange, false
			}
		}
		if len(f.Str) > 0 && f.Str[0] == '-' && nonZero(f.Str) {
			return 0, Negative, false
		}
		return 0, 0, true
	case metricline.String:
		if !isDecimal(f.Str) {
			return 0, NotANumber, false
		}
		v, err := strconv.ParseFloat(string(f.Str), 64)
		if err != nil || !inRange(v) || (v == 0 && nonZero(f.Str)) {
			return 0, OutOfRange, false
		}
		if v < 0 {
			return 0, Negative, false
		}
		return v, 0, true
	case metricline.Float:
		if math.IsNaN(f.Float) {
			return 0, NotANumber, false
		}
		if !inRange(f.Float) {
			return 0, OutOfRange, false
		}
		if f.Float < 0 {
			return 0, Negative, false
		}
		return f.Float, 0, true
	case metricline.Int, metricline.Uint:
		v, _ := f.Number()
		if v < 0 {
			return 0, Negative, false
		}
		return v, 0, true
	}
	return 0, NotANumber, false
}

// nonZero tells whether a decimal's digits (before any exponent) are not
// all zero.
func nonZero(s []byte) bool {
	for _, c := range s {
		switch {
		case c == 'e' || c == 'E':
			return false
		case c >= '1' && c <= '9':
			return true
		}
	}
	return false
}

// mayBeTiny tells whether a valid decimal could be nonzero and below 1e-300:
// only then is it converted before it is written.
func mayBeTiny(s []byte) bool {
	// The usual price: short, with no exponent or one of one or two
	// digits.
	if len(s) < 32 {
		i := len(s)
		for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
			i--
		}
		digits := len(s) - i
		if i > 0 && (s[i-1] == '-' || s[i-1] == '+') {
			i--
		}
		if i == 0 || (s[i-1] != 'e' && s[i-1] != 'E') || digits < 3 {
			return false
		}
	}
	lead, i := 0, 0 // zeros before the first significant digit, after the point
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	for ; i < len(s) && s[i] == '0'; i++ {
	}
	if i < len(s) && s[i] >= '1' && s[i] <= '9' {
		return hasNegativeExponent(s[i:], 300)
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] == '0'; i++ {
			lead++
		}
	}
	if lead >= 300 {
		return true
	}
	return hasNegativeExponent(s[i:], 300-lead)
}

// hasNegativeExponent tells whether s ends in an exponent of -limit or less.
func hasNegativeExponent(s []byte, limit int) bool {
	for i, c := range s {
		if c == 'e' || c == 'E' {
			exp := s[i+1:]
			if len(exp) == 0 || exp[0] != '-' {
				return false
			}
			n := 0
			for _, d := range exp[1:] {
				n = n*10 + int(d-'0')
				if n >= limit {
					return true
				}
			}
			return false
		}
	}
	return false
}

// coinID returns <id> of a field named [prefix]<id><suffix>, or nil.
func coinID(key []byte, prefix, suffix string) []byte {
	if len(key) > len(prefix) && string(key[:len(prefix)]) == prefix {
		key = key[len(prefix):]
	}
	if len(key) <= len(suffix) || string(key[len(key)-len(suffix):]) != suffix {
		return nil
	}
	return key[:len(key)-len(suffix)]
}

// isDecimal accepts the numeric strings a price may come as: an optional
// sign, digits with an optional fraction, an optional exponent. It refuses
// what strconv would also take but no price feed means: "NaN", "Inf",
// hexadecimal, underscores.
func isDecimal(s []byte) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// FormatPrice appends the shortest plain decimal that reads back to v:
// never an exponent, so 1.2345678901234e-05 is "0.000012345678901234".
// Zero is "0", whatever its sign.
func FormatPrice(dst []byte, v float64) []byte {
	if v == 0 {
		return append(dst, '0')
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
}

// appendJSONString appends s as a JSON string. s is valid UTF-8 (the
// decoders check it), so only quotes, backslashes and control characters
// need escaping (merge.lua escapes the same way).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
