package quote

import (
	"bytes"
	"math"
	"strconv"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Reason is why a price was refused.
type Reason int

const (
	NotANumber Reason = iota // "n/a", true, "NaN": no number at all
	OutOfRange               // beyond float64 ("1e400"), or below its normal range (1e-400 would be 0)
	Stale                    // older than the price stored for the coin
	Future                   // dated more than max_future ahead of the clock
	Negative                 // below zero: no price is
	BadCoinID                // a coin id that is not valid UTF-8: no JSON string holds it
	NumReasons
)

func (r Reason) String() string {
	switch r {
	case NotANumber:
		return "not a number"
	case OutOfRange:
		return "out of range"
	case Stale:
		return "older than stored"
	case Future:
		return "too far in the future"
	case Negative:
		return "negative"
	case BadCoinID:
		return "coin id not UTF-8"
	}
	return "?"
}

// Refusal counts refused prices of one reason, with the first as example.
type Refusal struct {
	Count  int
	Coin   string
	Value  string // as read, for NotANumber, OutOfRange and Negative
	Time   int64  // the price's time, ns
	Stored int64  // for Stale: the stored price's time (equal to Time: a tie lost)
}

func (r *Refusal) add(coin, value string, t int64) {
	if r.Count == 0 {
		r.Coin, r.Value, r.Time = coin, value, t
	}
	r.Count++
}

func (r *Refusal) merge(o Refusal) {
	if r.Count == 0 {
		*r = o
		return
	}
	r.Count += o.Count
}

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
	for i < len(s) && s[i] == '0' {
		i++
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

// compareDecimal compares two non-negative decimals as numbers, exactly:
// digits with an optional fraction and exponent ("97234.12",
// "1.2345e-06"), the texts Telegraf's serializers write. It returns -1, 0
// or 1; ok is false for any other text (a sign, a bare dot, an exponent
// of more than four digits), which the caller parses instead.
func compareDecimal(a, b []byte) (c int, ok bool) {
	if c, ok := comparePlain(a, b); ok {
		return c, true
	}
	x, ok := readDecimal(a)
	if !ok {
		return 0, false
	}
	y, ok := readDecimal(b)
	if !ok {
		return 0, false
	}
	switch xz, yz := x.zero(), y.zero(); {
	case xz || yz:
		return cmpBool(!xz, !yz), true
	case x.place != y.place:
		return cmpBool(x.place > y.place, x.place < y.place), true
	}
	// Same place: digit by digit; a missing digit is a zero, and D has
	// no trailing zero, so the longer is the larger ("45" against "4").
	for i := 0; ; i++ {
		dx, okx := x.digit(i)
		dy, oky := y.digit(i)
		switch {
		case !okx || !oky:
			return cmpBool(okx, oky), true
		case dx != dy:
			return cmpBool(dx > dy, dx < dy), true
		}
	}
}

// comparePlain compares two plain decimals, digits with an optional
// fraction and no exponent ("97234.12", "0.5"), without reading them as
// numbers: the longer integer part is the larger, then the bytes decide,
// and of two fractions equal as far as the shorter goes, the longer is
// larger unless it goes on in zeros only. ok is false for any other text
// (an exponent, a leading zero, a bare dot), which readDecimal takes.
func comparePlain(a, b []byte) (c int, ok bool) {
	ai, af, ok := plainParts(a)
	if !ok {
		return 0, false
	}
	bi, bf, ok := plainParts(b)
	if !ok {
		return 0, false
	}
	if len(ai) != len(bi) {
		return cmpBool(len(ai) > len(bi), len(ai) < len(bi)), true
	}
	if c := bytes.Compare(ai, bi); c != 0 {
		return c, true
	}
	n := min(len(af), len(bf))
	if c := bytes.Compare(af[:n], bf[:n]); c != 0 {
		return c, true
	}
	switch {
	case len(af) > n && !allZeros(af[n:]):
		return 1, true
	case len(bf) > n && !allZeros(bf[n:]):
		return -1, true
	}
	return 0, true
}

// plainParts splits a plain decimal into its integer part (no leading
// zero, or "0") and its fraction (empty without a dot).
func plainParts(s []byte) (integer, fraction []byte, ok bool) {
	i := digitRun(s, 0)
	if i == 0 || (s[0] == '0' && i > 1) {
		return nil, nil, false
	}
	if i == len(s) {
		return s, nil, true
	}
	if s[i] != '.' {
		return nil, nil, false
	}
	j := digitRun(s, i+1)
	if j == i+1 || j != len(s) {
		return nil, nil, false
	}
	return s[:i], s[i+1:], true
}

func allZeros(s []byte) bool {
	for _, c := range s {
		if c != '0' {
			return false
		}
	}
	return true
}

// cmpBool is 1 when gt, -1 when lt, else 0.
func cmpBool(gt, lt bool) int {
	switch {
	case gt && !lt:
		return 1
	case lt && !gt:
		return -1
	}
	return 0
}

// decimalText is a non-negative number 0.D × 10^place, its digits D given as
// two runs of the text (the integer's, then the fraction's) so that
// nothing is copied; D has no leading or trailing zero (none: zero).
type decimalText struct {
	head, tail []byte
	place      int
}

func (d decimalText) zero() bool { return len(d.head)+len(d.tail) == 0 }

func (d decimalText) digit(i int) (byte, bool) {
	if i < len(d.head) {
		return d.head[i], true
	}
	i -= len(d.head)
	if i < len(d.tail) {
		return d.tail[i], true
	}
	return 0, false
}

// readDecimal reads digits[.digits][(e|E)[+-]digits].
func readDecimal(s []byte) (d decimalText, ok bool) {
	i := digitRun(s, 0)
	integer := s[:i]
	var fraction []byte
	if i < len(s) && s[i] == '.' {
		j := digitRun(s, i+1)
		if j == i+1 {
			return d, false
		}
		fraction, i = s[i+1:j], j
	}
	if len(integer) == 0 {
		return d, false
	}
	exp := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return d, false
		}
		i++
		neg := i < len(s) && s[i] == '-'
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digitRun(s, i)
		if j != len(s) || j == i || j-i > 4 {
			return d, false
		}
		for _, c := range s[i:j] {
			exp = exp*10 + int(c-'0')
		}
		if neg {
			exp = -exp
		}
	}
	integer = bytes.TrimLeft(integer, "0")
	if len(integer) == 0 {
		// 0.000123: the fraction's leading zeros lower the place.
		digits := bytes.TrimLeft(fraction, "0")
		d.place = exp - (len(fraction) - len(digits))
		d.head = bytes.TrimRight(digits, "0")
		return d, true
	}
	d.place = exp + len(integer)
	d.head, d.tail = integer, bytes.TrimRight(fraction, "0")
	if len(d.tail) == 0 {
		d.head = bytes.TrimRight(d.head, "0")
	}
	return d, true
}

// digitRun returns the end of the run of digits that starts at i.
func digitRun(s []byte, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
