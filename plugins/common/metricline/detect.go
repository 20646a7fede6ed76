package metricline

// Detect decodes each line in the format it is written in, so that the
// format [[outputs.execd]] writes is set in one place, Telegraf's config:
// a line whose first byte other than a blank is '{' is Telegraf JSON (one
// metric, or a {"metrics":[...]} batch), any other line protocol. A line
// protocol measurement may begin with '{' too (Telegraf's serializer
// writes `{a x=1 1` for a metric so named): a '{' line that is not JSON,
// and gave no metric, is read as line protocol before it is refused.
type Detect struct {
	JSON, Influx Decoder

	// What jsonFirst hands the JSON decoder: a func made once, not a
	// closure per line (one allocation a line, 8% of list mode's CPU).
	fn      func(*Metric)
	emitted bool
	emit    func(*Metric)
}

// Decode decodes line with the decoder for its format.
func (d *Detect) Decode(line []byte, fn func(*Metric)) error {
	for _, c := range line {
		switch c {
		case ' ', '\t', '\r':
			continue
		case '{':
			return d.jsonFirst(line, fn)
		}
		break
	}
	return d.Influx.Decode(line, fn)
}

// jsonFirst decodes a line that begins with '{': as JSON, else, when the
// JSON decoder gave no metric, as line protocol. When neither reads it, the
// JSON error is the one reported: such lines are meant as JSON far more
// often.
func (d *Detect) jsonFirst(line []byte, fn func(*Metric)) error {
	if d.emit == nil {
		d.emit = func(m *Metric) { d.emitted = true; d.fn(m) }
	}
	d.fn, d.emitted = fn, false
	err := d.JSON.Decode(line, d.emit)
	emitted := d.emitted
	d.fn = nil
	if err == nil || emitted {
		return err
	}
	// One line of line protocol is one metric: fn is called only when it
	// was read whole.
	if d.Influx.Decode(line, fn) != nil {
		return err
	}
	return nil
}
