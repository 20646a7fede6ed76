package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Quote is one response's worth of prices: coin id -> currency -> price.
type Quote map[string]map[string]float64

// fullPrecision is CoinGecko's precision=full: the price as recorded.
const fullPrecision = -1

// maxPrecision is the largest number of decimals CoinGecko accepts.
const maxPrecision = 18

// parsePrecision reads the precision parameter: "" or "full" keep every digit,
// "0".."18" round to that many decimal places.
func parsePrecision(s string) (int, error) {
	if s == "" || s == "full" {
		return fullPrecision, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxPrecision {
		return 0, fmt.Errorf("invalid precision %q", s)
	}
	return n, nil
}

// roundPrice rounds v to the given number of decimals. FormatFloat rounds the
// exact binary value correctly, and parsing back gives the nearest float64,
// which is what a client reading CoinGecko's rounded text gets.
func roundPrice(v float64, precision int) float64 {
	if precision == fullPrecision {
		return v
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'f', precision, 64), 64)
	if err != nil { // cannot happen for finite v
		return v
	}
	return r
}

// formatNumber writes v as the shortest JSON number that reads back to v:
// plain decimals, or exponent form (1.523e-09) below expBelow and from 1e21 up.
func formatNumber(v, expBelow float64) string {
	if a := math.Abs(v); a != 0 && (a < expBelow || a >= 1e21) {
		return strconv.FormatFloat(v, 'e', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// encodeQuote writes q the way CoinGecko answers simple/price: only the known
// ids, in request order, each with the requested currencies it has.
func encodeQuote(q Quote, ids, currencies []string, precision int, expBelow float64) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, id := range ids {
		prices, ok := q[id]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeKey(&b, id)
		b.WriteByte('{')
		firstCur := true
		for _, cur := range currencies {
			v, ok := prices[cur]
			if !ok {
				continue
			}
			if !firstCur {
				b.WriteByte(',')
			}
			firstCur = false
			writeKey(&b, cur)
			b.WriteString(formatNumber(roundPrice(v, precision), expBelow))
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes()
}

// writeKey writes a JSON object key; json.Marshal escapes whatever the id holds.
func writeKey(b *bytes.Buffer, k string) {
	enc, err := json.Marshal(k)
	if err != nil { // never: a string always marshals
		panic(err)
	}
	b.Write(enc)
	b.WriteByte(':')
}
