package metricline

import "github.com/influxdata/telegraf"

// FromTelegraf makes m the metric tm, as a decoder would have passed it,
// so that what Telegraf hands a built-in plugin goes through the same
// batch builders as a line read from [[outputs.execd]]. m's slices are
// reused; the names and values are copied into one new buffer, so m stays
// valid after tm changes. ToTelegraf then returns tm itself.
func FromTelegraf(tm telegraf.Metric, m *Metric) {
	m.Reset()
	tags, fields := tm.TagList(), tm.FieldList()
	size := len(tm.Name())
	for _, t := range tags {
		size += len(t.Key) + len(t.Value)
	}
	for _, f := range fields {
		size += len(f.Key)
		if s, ok := f.Value.(string); ok {
			size += len(s)
		}
	}
	buf := make([]byte, 0, size)
	take := func(s string) []byte {
		from := len(buf)
		buf = append(buf, s...)
		return buf[from:len(buf):len(buf)]
	}
	m.Name = take(tm.Name())
	for _, t := range tags {
		m.Tags = append(m.Tags, Tag{Key: take(t.Key), Value: take(t.Value)})
	}
	for _, f := range fields {
		field := Field{Key: take(f.Key)}
		switch v := f.Value.(type) {
		case float64:
			field.Kind, field.Float = Float, v
		case int64:
			field.Kind, field.Int = Int, v
		case uint64:
			field.Kind, field.Uint = Uint, v
		case string:
			field.Kind, field.Str = String, take(v)
		case bool:
			field.Kind, field.Bool = Bool, v
		default:
			continue // Telegraf's metrics hold only the five types above
		}
		m.Fields = append(m.Fields, field)
	}
	m.Time = tm.Time().UnixNano()
	m.telegraf = tm
}
