package quote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// A takeover reads a document found at the key with no state beside it:
// one the article's shell consumer wrote (pretty-printed, prices as
// strings, small ones with exponents), one another program wrote, or one
// of ours whose state and times index were deleted. It is read here in Go,
// not in the script, so that every price keeps its exact digits (Lua's
// numbers are doubles) and every coin that cannot be kept is named in the
// log. The script takes the coins only if the document is still byte for
// byte the one read (its SHA1).

// takeoverWindow is when a document's timestamp may be: from 1990 to a
// day ahead of the clock. It spans less than a factor of ten, so at most
// one unit from 1ns to 1s fits a timestamp.
var takeoverEpoch = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

const takeoverAhead = 24 * time.Hour

func (b *Batch) takeover(doc []byte, ours bool, now time.Time) (coins []imported, warnings, infos []string) {
	key := fmt.Sprintf("key %q: ", b.opts.Key)
	warn := func(format string, args ...interface{}) {
		warnings = append(warnings, key+fmt.Sprintf(format, args...))
	}
	var d struct {
		Timestamp json.RawMessage `json:"timestamp"`
		Quote     json.RawMessage `json:"quote"`
		Prices    json.RawMessage `json:"prices"`
	}
	var entries []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	err := dec.Decode(&d)
	if err == nil && dec.More() {
		err = errors.New("data after the document")
	}
	if err == nil {
		err = json.Unmarshal(d.Prices, &entries)
		if err == nil && entries == nil {
			err = errors.New(`no "prices" array`)
		}
	}
	if err != nil {
		warn("the document there is not a quote document (%v), and no state is beside it: it is replaced; it began %q", err, head(doc))
		return nil, warnings, nil
	}
	var quoted string
	if len(d.Quote) > 0 {
		// A currency code names the same currency in either case ("USD"
		// is ISO 4217's spelling, "usd" CoinGecko's): its prices are kept,
		// and the document says the configured quote from now on. Only
		// ASCII letters fold: "uſd" is not "usd".
		var q string
		if json.Unmarshal(d.Quote, &q) != nil || !asciiEqualFold(q, b.opts.Quote) {
			warn("the document there quotes %s, not %q: it is replaced and none of its prices is taken", d.Quote, b.opts.Quote)
			return nil, warnings, nil
		}
		if q != b.opts.Quote {
			quoted = fmt.Sprintf(" (it quoted %q, the same currency as quote %q, which it says from now on)", q, b.opts.Quote)
		}
	}

	t, unit, why := docTime(d.Timestamp, b.opts.TimestampUnits, now, ours)
	ord := order(t)
	switch {
	case why != "":
		warn("the document's timestamp %s %s: its prices are taken with no time, so any new price replaces them", d.Timestamp, why)
		ord = order(0)
	case unit != b.opts.TimestampUnits:
		warn("the document's timestamp %s is in %s, not in timestamp_units (%s): read as %s", d.Timestamp, unitName(unit), b.opts.TimestampUnits, stamp(t))
	}

	seen := make(map[string]int)
	dropped := 0
	drop := func(format string, args ...interface{}) {
		if dropped++; dropped <= maxCoinLines {
			warn(format, args...)
		}
	}
	for i, raw := range entries {
		var e struct {
			ID    json.RawMessage `json:"id"`
			Price json.RawMessage `json:"price"`
		}
		var id string
		if json.Unmarshal(raw, &e) != nil || json.Unmarshal(e.ID, &id) != nil || id == "" {
			drop("prices[%d] %q has no coin id: dropped", i, head(raw))
			continue
		}
		if len(e.Price) == 0 {
			drop("coin %q has no price: dropped", id)
			continue
		}
		price, reason, ok := exactPrice(e.Price)
		if !ok {
			drop("coin %q: price %s is %s: dropped", id, head(e.Price), reason)
			continue
		}
		if price[0] == '-' {
			drop("coin %q: price %s is %s, and no price is below zero: dropped", id, head(e.Price), Negative)
			continue
		}
		if j, dup := seen[id]; dup {
			drop("coin %q appears twice: the later price %s is taken", id, price)
			coins[j].price = price
			continue
		}
		seen[id] = len(coins)
		coins = append(coins, imported{id: id, order: ord, price: price})
	}
	if dropped > maxCoinLines {
		warn("and %d more coins dropped", dropped-maxCoinLines)
	}
	if ours {
		warn("the state beside the document, and its times index, had been deleted: "+
			"its %s take the document's time %s as their own, so a price older than that is refused until a newer one comes",
			plural(len(coins), "coin", "coins"), stamp(t))
	} else {
		infos = append(infos, key+fmt.Sprintf("took over the document there (no state beside it, as the old shell consumer left it): %s kept exactly%s",
			plural(len(coins), "price", "prices"), quoted))
	}
	return coins, warnings, infos
}

// asciiEqualFold compares a and b ignoring the case of ASCII letters only.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func head(b []byte) string {
	if len(b) > 100 {
		return string(b[:100]) + "..."
	}
	return string(b)
}

func unitName(u time.Duration) string {
	switch u {
	case time.Second:
		return "seconds"
	case time.Millisecond:
		return "milliseconds"
	case time.Microsecond:
		return "microseconds"
	case time.Nanosecond:
		return "nanoseconds"
	}
	return "units of " + u.String()
}

// docTime reads a document's timestamp (a JSON number, or a string of one)
// in the unit, from 1ns to 1s, that puts it between 1990 and a day ahead
// of now: the configured unit first. A document of ours (known) is in the
// configured unit. It returns the time in ns and the unit, or why it
// cannot.
func docTime(raw json.RawMessage, want time.Duration, now time.Time, known bool) (int64, time.Duration, string) {
	text := strings.TrimSpace(string(raw))
	if text == "" {
		return 0, 0, "is missing"
	}
	if text[0] == '"' {
		if json.Unmarshal(raw, &text) != nil {
			return 0, 0, "is not a number"
		}
	}
	if !isDecimal([]byte(text)) {
		return 0, 0, "is not a number"
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok || r.Sign() < 0 {
		return 0, 0, "is not a time"
	}
	if known {
		ns := new(big.Rat).Mul(r, new(big.Rat).SetInt64(int64(want)))
		if q := new(big.Int).Quo(ns.Num(), ns.Denom()); q.IsInt64() {
			return q.Int64(), want, ""
		}
		return 0, 0, "is not a time"
	}
	hi := now.Add(takeoverAhead).UnixNano()
	units := []time.Duration{want}
	for u := time.Second; u >= time.Nanosecond; u /= 10 {
		if u != want {
			units = append(units, u)
		}
	}
	for _, u := range units {
		ns := new(big.Rat).Mul(r, new(big.Rat).SetInt64(int64(u)))
		q := new(big.Int).Quo(ns.Num(), ns.Denom())
		if q.IsInt64() && q.Int64() >= takeoverEpoch && q.Int64() <= hi {
			return q.Int64(), u, ""
		}
	}
	return 0, 0, "fits no unit from 1ns to 1s that puts it between 1990 and the clock"
}

// exactPrice reads a price as the article's consumer or another program
// wrote it (a string holding a decimal, or a JSON number) and gives the
// same value as a plain decimal, digit for digit: "1.2345678901234e-05" is
// "0.000012345678901234" and 123456789012345678 keeps its 18 digits.
func exactPrice(raw json.RawMessage) (string, Reason, bool) {
	text := strings.TrimSpace(string(raw))
	if text == "" {
		return "", NotANumber, false
	}
	if text[0] == '"' {
		if json.Unmarshal(raw, &text) != nil {
			return "", NotANumber, false
		}
	} else if text[0] != '-' && (text[0] < '0' || text[0] > '9') {
		return "", NotANumber, false // an object, array, true, false or null
	}
	return plainDecimal(text)
}

// plainDecimal rewrites a decimal without its exponent, exactly, without
// leading zeros and without trailing zeros after the point. It refuses
// what is not a decimal, and values beyond float64 or below its normal
// range, which no reader could take back as the number written.
func plainDecimal(s string) (string, Reason, bool) {
	if !isDecimal([]byte(s)) {
		return "", NotANumber, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || !inRange(v) || (v == 0 && nonZero([]byte(s))) {
		return "", OutOfRange, false
	}
	neg := s[0] == '-'
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil {
			if !nonZero([]byte(mant)) {
				return "0", 0, true
			}
			return "", OutOfRange, false
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := len(intPart) + exp // the decimal point's place in digits
	lead := 0
	for lead < len(digits) && digits[lead] == '0' {
		lead++
	}
	if lead == len(digits) {
		return "0", 0, true
	}
	digits, point = strings.TrimRight(digits[lead:], "0"), point-lead
	var out strings.Builder
	if neg {
		out.WriteByte('-')
	}
	switch {
	case point <= 0:
		out.WriteString("0.")
		out.WriteString(strings.Repeat("0", -point))
		out.WriteString(digits)
	case point >= len(digits):
		out.WriteString(digits)
		out.WriteString(strings.Repeat("0", point-len(digits)))
	default:
		out.WriteString(digits[:point])
		out.WriteByte('.')
		out.WriteString(digits[point:])
	}
	return out.String(), 0, true
}
