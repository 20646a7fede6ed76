package metricjson

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// JSON decodes what Telegraf's JSON serializer writes:
//
//	{"fields":{...},"name":"...","tags":{...},"timestamp":N}
//	{"metrics":[{...},{...}]}
//
// Key order does not matter; unknown keys are skipped. Duplicate keys,
// field values that are not numbers, strings or booleans, numbers outside
// float64, and invalid UTF-8 are errors.
type JSON struct {
	// TimestampUnits is json_timestamp_units: what one unit of "timestamp"
	// is worth. Zero means one second, as in Telegraf.
	TimestampUnits time.Duration
	// TimestampFormat is json_timestamp_format: when set, "timestamp" is a
	// string in this Go time layout instead of a number.
	TimestampFormat string
	// FloatNumbers makes every field number a Float, as Telegraf's own JSON
	// parser does: its serializer writes the float 3.0 as 3, so an integer
	// in the text does not mean an integer field. Without it, integers that
	// fit are Int (or Uint).
	FloatNumbers bool
	// LazyNumbers leaves field numbers as their text (Kind Decimal), to be
	// converted only if they are used: quote mode keeps one price per coin
	// per flush and would parse thousands of numbers to keep ten. Numbers
	// that could be out of the float64 range are still checked here.
	LazyNumbers bool

	p       parser
	m       metricline.Metric
	scratch []byte
	seen    map[string]struct{}
	bad     error        // the first content error of the metric being read
	me      *metricError // errors.As's target, here so that it does not escape per line
}

// note keeps the first content error of a metric; reading goes on so the
// rest of a batch line can still be used.
func (d *JSON) note(err error) {
	if d.bad == nil {
		d.bad = err
	}
}

// NewJSON returns a JSON decoder with Telegraf's unit rounding applied: a
// unit is rounded down to a power of ten nanoseconds, as the serializer does.
func NewJSON(units time.Duration, format string) *JSON {
	if units <= 0 {
		units = time.Second
	}
	d := time.Nanosecond
	for d*10 <= units {
		d *= 10
	}
	return &JSON{TimestampUnits: d, TimestampFormat: format}
}

// metricError is wrong content in one metric; the line's syntax is intact
// so the rest of a batch can still be read.
type metricError struct{ msg string }

func (e *metricError) Error() string { return e.msg }

func badMetric(format string, args ...interface{}) error {
	return &metricError{fmt.Sprintf(format, args...)}
}

// Decode implements Decoder.
func (d *JSON) Decode(line []byte, fn func(*metricline.Metric)) error {
	if d.TimestampUnits <= 0 {
		*d = *NewJSON(d.TimestampUnits, d.TimestampFormat)
	}
	p := &d.p
	p.reset(line)
	p.ws()
	if p.eof() {
		return nil // a blank line carries no metric
	}
	if p.peek() != '{' {
		return p.syntax("want a JSON object")
	}
	start := p.pos
	p.pos++
	p.ws()
	if p.peek() == '"' {
		key, err := d.key()
		if err != nil {
			return err
		}
		if string(key) == "metrics" {
			err := d.batch(fn)
			if err == nil {
				p.ws()
				if !p.eof() {
					err = p.syntax("unexpected data after the batch")
				}
			}
			return err
		}
	}
	p.pos = start
	d.scratch = d.scratch[:0]
	err := d.metric()
	if err == nil {
		p.ws()
		if !p.eof() {
			return p.syntax("unexpected data after the metric")
		}
		fn(&d.m)
		return nil
	}
	return err
}

// batch reads the array after "metrics": and the closing brace.
func (d *JSON) batch(fn func(*metricline.Metric)) error {
	p := &d.p
	p.ws()
	if p.peek() != '[' {
		return p.syntax(`"metrics" must be an array of metrics`)
	}
	p.pos++
	var firstBad error
	bad, index := 0, 0
	p.ws()
	if p.peek() == ']' {
		p.pos++
	} else {
		for {
			d.scratch = d.scratch[:0]
			err := d.metric()
			switch {
			case err == nil:
				fn(&d.m)
			case errors.As(err, &d.me):
				if firstBad == nil {
					firstBad = fmt.Errorf("metric %d of the batch: %w", index+1, err)
				}
				bad++
			default:
				if index > 0 {
					return fmt.Errorf("metric %d of the batch: %w", index+1, err)
				}
				return err
			}
			index++
			p.ws()
			c := p.peek()
			p.pos++
			if c == ']' {
				break
			}
			if c != ',' {
				p.pos--
				return p.syntax("want ',' or ']' in the metrics array")
			}
		}
	}
	p.ws()
	if p.peek() != '}' {
		if p.peek() == ',' {
			return p.syntax(`a batch line has only the "metrics" key`)
		}
		return p.syntax("want '}' after the metrics array")
	}
	p.pos++
	if bad > 1 {
		return fmt.Errorf("%w (and %d more bad metrics in the batch; the other %d metrics were kept)", firstBad, bad-1, index-bad)
	}
	if bad == 1 && index > 1 {
		return fmt.Errorf("%w (the other %d metrics were kept)", firstBad, index-1)
	}
	return firstBad
}

// key reads a string and the colon after it.
func (d *JSON) key() ([]byte, error) {
	k, err := d.str()
	if err != nil {
		return nil, err
	}
	return k, d.p.expect(':')
}

// metric reads one metric object into d.m. A *metricError means the
// object was read whole but its content is wrong.
func (d *JSON) metric() error {
	p := &d.p
	m := &d.m
	m.Reset()
	m.TagsSorted, m.FieldsSorted = true, true // until a key says otherwise
	p.ws()
	if p.peek() != '{' {
		return p.syntax("want a metric object")
	}
	p.pos++
	var haveFields, haveName, haveTags, haveTime bool
	d.bad = nil
	p.ws()
	if p.peek() == '}' {
		p.pos++
		return badMetric(`empty object: a metric needs "fields", "name" and "timestamp"`)
	}
	for {
		p.ws()
		if p.peek() != '"' {
			return p.syntax("want a quoted key")
		}
		key, err := d.key()
		if err != nil {
			return err
		}
		p.ws()
		switch string(key) {
		case "fields":
			if haveFields {
				d.note(badMetric(`duplicate key "fields"`))
			}
			haveFields = true
			if p.literal("null") {
				d.note(badMetric(`"fields" is null`))
				break
			}
			if err := d.fields(); err != nil {
				return err
			}
		case "name":
			if haveName {
				d.note(badMetric(`duplicate key "name"`))
			}
			haveName = true
			if p.peek() != '"' {
				if err := d.skip(0); err != nil {
					return err
				}
				d.note(badMetric(`"name" is not a string`))
				break
			}
			name, err := d.str()
			if err != nil {
				return err
			}
			m.Name = name
		case "tags":
			if haveTags {
				d.note(badMetric(`duplicate key "tags"`))
			}
			haveTags = true
			if p.literal("null") {
				break
			}
			if err := d.tags(); err != nil {
				return err
			}
		case "timestamp":
			if haveTime {
				d.note(badMetric(`duplicate key "timestamp"`))
			}
			haveTime = true
			if err := d.timestamp(); err != nil {
				return err
			}
		case "metrics":
			return p.syntax(`"metrics" must be the only key of a batch line`)
		default:
			if err := d.skip(0); err != nil {
				return err
			}
		}
		p.ws()
		c := p.peek()
		p.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			p.pos--
			return p.syntax("want ',' or '}' in the metric object")
		}
	}
	switch {
	case d.bad != nil:
		return d.bad
	case !haveFields:
		return badMetric(`no "fields"`)
	case !haveName:
		return badMetric(`no "name"`)
	case len(m.Name) == 0:
		return badMetric(`"name" is empty`)
	case !haveTime:
		return badMetric(`no "timestamp"`)
	}
	return nil
}

func (d *JSON) fields() error {
	p := &d.p
	m := &d.m
	if p.peek() != '{' {
		if err := d.skip(0); err != nil {
			return err
		}
		d.note(badMetric(`"fields" is not an object`))
		return nil
	}
	p.pos++
	p.ws()
	if p.peek() == '}' {
		p.pos++
		return nil
	}
	for {
		p.ws()
		if p.peek() != '"' {
			return p.syntax("want a quoted field name")
		}
		key, err := d.key()
		if err != nil {
			return err
		}
		p.ws()
		f := metricline.Field{Key: key}
		switch c := p.peek(); {
		case c == '"':
			s, err := d.str()
			if err != nil {
				return err
			}
			f.Kind, f.Str = metricline.String, s
		case c == 't' || c == 'f':
			if p.literal("true") {
				f.Kind, f.Bool = metricline.Bool, true
			} else if p.literal("false") {
				f.Kind = metricline.Bool
			} else {
				return p.syntax("invalid literal")
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if err := d.number(&f); err != nil {
				var me *metricError
				if !errors.As(err, &me) {
					return err
				}
				d.note(badMetric("field %q: %v", key, err))
			}
		default:
			start := p.pos
			if err := d.skip(0); err != nil {
				return err
			}
			d.note(badMetric("field %q: value %.20s is not a number, string or boolean", key, p.buf[start:p.pos]))
		}
		if f.Kind != 0 {
			// Keys in ascending order (what Telegraf's serializer writes)
			// cannot repeat one another: one comparison each.
			n := len(m.Fields)
			if n > 0 && !(m.FieldsSorted && bytes.Compare(m.Fields[n-1].Key, key) < 0) {
				m.FieldsSorted = false
				if d.duplicate(m.Fields, key) {
					d.note(badMetric("duplicate field %q", key))
				}
			}
			m.Fields = append(m.Fields, f)
		}
		p.ws()
		c := p.peek()
		p.pos++
		if c == '}' {
			return nil
		}
		if c != ',' {
			p.pos--
			return p.syntax(`want ',' or '}' in "fields"`)
		}
	}
}

func (d *JSON) tags() error {
	p := &d.p
	m := &d.m
	if p.peek() != '{' {
		if err := d.skip(0); err != nil {
			return err
		}
		d.note(badMetric(`"tags" is not an object`))
		return nil
	}
	p.pos++
	p.ws()
	if p.peek() == '}' {
		p.pos++
		return nil
	}
	for {
		p.ws()
		if p.peek() != '"' {
			return p.syntax("want a quoted tag key")
		}
		key, err := d.key()
		if err != nil {
			return err
		}
		p.ws()
		if p.peek() != '"' {
			if err := d.skip(0); err != nil {
				return err
			}
			d.note(badMetric("tag %q is not a string", key))
		} else {
			v, err := d.str()
			if err != nil {
				return err
			}
			if n := len(m.Tags); n > 0 && !(m.TagsSorted && bytes.Compare(m.Tags[n-1].Key, key) < 0) {
				m.TagsSorted = false
				for _, t := range m.Tags {
					if bytes.Equal(t.Key, key) {
						d.note(badMetric("duplicate tag %q", key))
					}
				}
			}
			m.Tags = append(m.Tags, metricline.Tag{Key: key, Value: v})
		}
		p.ws()
		c := p.peek()
		p.pos++
		if c == '}' {
			return nil
		}
		if c != ',' {
			p.pos--
			return p.syntax(`want ',' or '}' in "tags"`)
		}
	}
}

// duplicate reports whether key is already among fields. Small metrics
// are searched in place; wide ones through a set.
func (d *JSON) duplicate(fields []metricline.Field, key []byte) bool {
	if len(fields) < 32 {
		for i := range fields {
			if bytes.Equal(fields[i].Key, key) {
				return true
			}
		}
		return false
	}
	if len(fields) == 32 {
		if d.seen == nil {
			d.seen = make(map[string]struct{}, 64)
		}
		clear(d.seen)
		for i := range fields {
			d.seen[string(fields[i].Key)] = struct{}{}
		}
	}
	if _, ok := d.seen[string(key)]; ok {
		return true
	}
	d.seen[string(key)] = struct{}{}
	return false
}

func (d *JSON) timestamp() error {
	p := &d.p
	m := &d.m
	if d.TimestampFormat != "" {
		if p.peek() != '"' {
			if err := d.skip(0); err != nil {
				return err
			}
			d.note(badMetric(`"timestamp" is not a string in format %q`, d.TimestampFormat))
			return nil
		}
		s, err := d.str()
		if err != nil {
			return err
		}
		t, err := time.Parse(d.TimestampFormat, string(s))
		if err != nil {
			d.note(badMetric(`"timestamp": %v`, err))
			return nil
		}
		m.Time = t.UnixNano()
		return nil
	}
	c := p.peek()
	if c != '-' && (c < '0' || c > '9') {
		if err := d.skip(0); err != nil {
			return err
		}
		d.note(badMetric(`"timestamp" is not a number`))
		return nil
	}
	var f metricline.Field
	floats, lazy := d.FloatNumbers, d.LazyNumbers
	d.FloatNumbers, d.LazyNumbers = false, false // a timestamp is an integer count of units
	err := d.number(&f)
	d.FloatNumbers, d.LazyNumbers = floats, lazy
	if err != nil {
		var me *metricError
		if !errors.As(err, &me) {
			return err
		}
		d.note(badMetric(`"timestamp": %v`, err))
		return nil
	}
	units := int64(d.TimestampUnits)
	switch f.Kind {
	case metricline.Int:
		if f.Int > math.MaxInt64/units || f.Int < math.MinInt64/units {
			d.note(badMetric(`"timestamp" %d is out of range (year 1678 to 2262)`, f.Int))
			return nil
		}
		m.Time = f.Int * units
	case metricline.Float:
		ns := f.Float * float64(units)
		if ns >= math.MaxInt64 || ns <= math.MinInt64 {
			d.note(badMetric(`"timestamp" %g is out of range (year 1678 to 2262)`, f.Float))
			return nil
		}
		m.Time = int64(ns)
	default:
		d.note(badMetric(`"timestamp" %d is out of range (year 1678 to 2262)`, f.Uint))
	}
	return nil
}
