package metricline

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/influxdata/telegraf/plugins/parsers/influx"
)

// Influx decodes line protocol with Telegraf's own parser, so what Telegraf
// writes with data_format = "influx" is read exactly as Telegraf reads it.
type Influx struct {
	parser *influx.Parser
	m      Metric
}

// NewInflux returns a line protocol decoder; precision is the unit of the
// timestamps (zero: nanoseconds, as Telegraf's serializer writes them).
func NewInflux(precision time.Duration) (*Influx, error) {
	p := &influx.Parser{}
	if err := p.Init(); err != nil {
		return nil, err
	}
	if precision > 0 {
		p.SetTimePrecision(precision)
	}
	return &Influx{parser: p}, nil
}

// Decode implements Decoder.
func (d *Influx) Decode(line []byte, fn func(*Metric)) error {
	metrics, err := d.parser.Parse(line)
	if err != nil {
		var pe *influx.ParseError
		if errors.As(err, &pe) {
			msg := strings.TrimPrefix(pe.Error(), "metric parse error: ")
			if i := strings.LastIndex(msg, " at "); i > 0 {
				msg = msg[:i]
			}
			return fmt.Errorf("invalid line protocol at byte %d: %s", pe.Column, msg)
		}
		return fmt.Errorf("invalid line protocol: %w", err)
	}
	for _, tm := range metrics {
		// Telegraf's parser lets some malformed lines through as a metric
		// without fields (found by fuzzing: `0\`); no such metric exists.
		if len(tm.FieldList()) == 0 {
			return fmt.Errorf("invalid line protocol: metric %q has no fields", tm.Name())
		}
		m := &d.m
		m.reset()
		m.Name = append(m.Name, tm.Name()...)
		for _, t := range tm.TagList() {
			m.Tags = append(m.Tags, Tag{Key: []byte(t.Key), Value: []byte(t.Value)})
		}
		for _, f := range tm.FieldList() {
			field := Field{Key: []byte(f.Key)}
			switch v := f.Value.(type) {
			case float64:
				field.Kind, field.Float = Float, v
			case int64:
				field.Kind, field.Int = Int, v
			case uint64:
				field.Kind, field.Uint = Uint, v
			case string:
				field.Kind, field.Str = String, []byte(v)
			case bool:
				field.Kind, field.Bool = Bool, v
			default:
				continue
			}
			m.Fields = append(m.Fields, field)
		}
		m.Time = tm.Time().UnixNano()
		m.telegraf = tm
		fn(m)
	}
	return nil
}
