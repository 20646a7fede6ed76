package metricline

import "bytes"

// Canonical lists a metric's tags and fields in the order Telegraf holds
// them once the metric is a telegraf.Metric built from maps (what
// ToTelegraf gives and Telegraf's serializers see): sorted by key, and of
// keys given twice only the last. Serializers of our own walk a metric in
// this order so that they write what Telegraf's would, without building the
// telegraf.Metric. Reuse one Canonical: it keeps its index slices.
type Canonical struct {
	Tags   []int32 // indexes into Metric.Tags
	Fields []int32 // indexes into Metric.Fields
}

// Of fills c for m.
func (c *Canonical) Of(m *Metric) {
	c.Tags = c.Tags[:0]
	for i := range m.Tags {
		c.Tags = append(c.Tags, int32(i))
	}
	if !m.TagsSorted {
		c.Tags = canonical(c.Tags, func(i int32) []byte { return m.Tags[i].Key })
	}
	c.Fields = c.Fields[:0]
	for i := range m.Fields {
		c.Fields = append(c.Fields, int32(i))
	}
	if !m.FieldsSorted {
		c.Fields = canonical(c.Fields, func(i int32) []byte { return m.Fields[i].Key })
	}
}

// canonical sorts idx by key, stably, and keeps only the last index of
// each run of equal keys. Keys already in strictly ascending order (what
// Telegraf's JSON and sorted line protocol give) cost one pass.
func canonical(idx []int32, key func(int32) []byte) []int32 {
	sorted := true
	for i := 1; i < len(idx); i++ {
		if bytes.Compare(key(idx[i-1]), key(idx[i])) >= 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return idx
	}
	// Insertion sort: stable, no allocation, and metrics have tens of
	// fields, not thousands; a binary search keeps comparisons at n log n.
	for i := 1; i < len(idx); i++ {
		v := idx[i]
		k := key(v)
		lo, hi := 0, i
		for lo < hi {
			mid := (lo + hi) / 2
			if bytes.Compare(key(idx[mid]), k) <= 0 {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		copy(idx[lo+1:i+1], idx[lo:i])
		idx[lo] = v
	}
	out := idx[:0]
	for i := 0; i < len(idx); i++ {
		if i+1 < len(idx) && bytes.Equal(key(idx[i]), key(idx[i+1])) {
			continue // a later one of the same key wins
		}
		out = append(out, idx[i])
	}
	return out
}

// ShortestDecimal reports whether text, a number as JSON or line protocol
// writes it, is already what strconv.FormatFloat(v, 'f', -1, 64) gives for
// the float64 v it reads as, so a serializer may copy it instead of parsing
// and formatting: no exponent, no superfluous zeros ("0", "-0", "97.5",
// "1200", not "0.50", "01", "1e3"), at most 15 significant digits (any
// two decimals of 15 digits read as different float64s, so no other,
// shorter text reads as v) and far from the subnormal range. intDigits is
// the number of digits before the point; fracZeros the zeros right after
// it when the integer part is 0 (for serializers that switch to an
// exponent for small and large numbers).
func ShortestDecimal(text []byte) (intDigits, fracZeros int, ok bool) {
	i := 0
	if i < len(text) && text[i] == '-' {
		i++
	}
	start := i
	for i < len(text) && text[i] >= '0' && text[i] <= '9' {
		i++
	}
	intDigits = i - start
	if intDigits == 0 || (intDigits > 1 && text[start] == '0') || intDigits > 300 {
		return 0, 0, false
	}
	// Significant digits: from the first non-zero digit to the last one.
	first, last := -1, -1
	for j := start; j < i; j++ {
		if text[j] != '0' {
			if first < 0 {
				first = j
			}
			last = j
		}
	}
	if i < len(text) {
		if text[i] != '.' || i+1 == len(text) || text[len(text)-1] == '0' {
			return 0, 0, false
		}
		i++
		for j := i; j < len(text); j++ {
			c := text[j]
			if c < '0' || c > '9' {
				return 0, 0, false
			}
			if c != '0' {
				if first < 0 {
					first = j
					if intDigits == 1 && text[start] == '0' {
						fracZeros = j - i
					}
				}
				last = j
			}
		}
	}
	if first < 0 {
		return intDigits, 0, true // zero
	}
	sig := last - first + 1
	if first < i && last >= i { // the point lies between them
		sig--
	}
	if sig > 15 || fracZeros > 290 {
		return 0, 0, false
	}
	return intDigits, fracZeros, true
}
