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

// InOrder fills c for m with the tags as Of lists them and the fields in
// m's order, as Telegraf holds the fields of a metric its parsers built
// field by field (telegraf.Metric's AddField): of a key given twice, the
// last value at the place of the first. Telegraf's influx serializer
// writes them so without influx_sort_fields.
func (c *Canonical) InOrder(m *Metric) {
	c.Of(m)
	n := len(m.Fields)
	if len(c.Fields) == n {
		// No key twice: m's own order.
		c.Fields = c.Fields[:0]
		for i := range m.Fields {
			c.Fields = append(c.Fields, int32(i))
		}
		return
	}
	// c.Fields holds the last index of each key, sorted by key; put each
	// at the place of its key's first index.
	last := make(map[string]int32, len(c.Fields))
	for _, i := range c.Fields {
		last[string(m.Fields[i].Key)] = i
	}
	c.Fields = c.Fields[:0]
	for i := range m.Fields {
		k := string(m.Fields[i].Key)
		if j, ok := last[k]; ok {
			c.Fields = append(c.Fields, j)
			delete(last, k)
		}
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
