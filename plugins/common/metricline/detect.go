package metricline

// Detect decodes each line in the format it is written in, so that the
// format [[outputs.execd]] writes is set in one place, Telegraf's config:
// a line whose first byte other than a blank is '{' is Telegraf JSON (one
// metric, or a {"metrics":[...]} batch), any other line protocol. (A line
// protocol measurement beginning with '{' would be read as JSON and
// refused as such: Telegraf's serializer would write one only for a metric
// so named.)
type Detect struct {
	JSON, Influx Decoder
}

// Decode decodes line with the decoder for its format.
func (d *Detect) Decode(line []byte, fn func(*Metric)) error {
	for _, c := range line {
		switch c {
		case ' ', '\t', '\r':
			continue
		case '{':
			return d.JSON.Decode(line, fn)
		}
		break
	}
	return d.Influx.Decode(line, fn)
}
