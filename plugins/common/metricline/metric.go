package metricline

import (
	"fmt"
	"strconv"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
)

// Kind is the type of a field value, as Telegraf types them.
type Kind uint8

const (
	Float Kind = iota + 1
	Int
	Uint
	String
	Bool
	// Decimal is a JSON number not yet converted, in Str (see
	// JSON.LazyNumbers); it reads as a float.
	Decimal
)

// Field is one field; only the member for its Kind is meaningful.
type Field struct {
	Key   []byte
	Kind  Kind
	Float float64
	Int   int64
	Uint  uint64
	Str   []byte
	Bool  bool
}

// Number returns the value as a float64 for the numeric kinds.
func (f *Field) Number() (float64, bool) {
	switch f.Kind {
	case Float:
		return f.Float, true
	case Int:
		return float64(f.Int), true
	case Uint:
		return float64(f.Uint), true
	case Decimal:
		v, err := strconv.ParseFloat(string(f.Str), 64)
		return v, err == nil
	}
	return 0, false
}

// Value returns the value as Telegraf holds it (allocates for strings).
func (f *Field) Value() interface{} {
	switch f.Kind {
	case Float:
		return f.Float
	case Int:
		return f.Int
	case Uint:
		return f.Uint
	case String:
		return string(f.Str)
	case Bool:
		return f.Bool
	case Decimal:
		v, _ := f.Number()
		return v
	}
	return nil
}

// Text renders the value the way line protocol would show it, for logs
// and tests.
func (f *Field) Text() string {
	switch f.Kind {
	case Float:
		return strconv.FormatFloat(f.Float, 'g', -1, 64)
	case Int:
		return strconv.FormatInt(f.Int, 10)
	case Uint:
		return strconv.FormatUint(f.Uint, 10)
	case String:
		return strconv.Quote(string(f.Str))
	case Bool:
		return strconv.FormatBool(f.Bool)
	case Decimal:
		return string(f.Str)
	}
	return "?"
}

// Tag is one tag.
type Tag struct {
	Key, Value []byte
}

// Metric is one decoded metric.
type Metric struct {
	Name   []byte
	Tags   []Tag
	Fields []Field
	Time   int64 // nanoseconds since the Unix epoch

	// TagsSorted and FieldsSorted, when true, promise that the keys are
	// in strictly ascending order, as a decoder that compared them found:
	// Canonical then has nothing to sort or drop. False promises nothing.
	TagsSorted, FieldsSorted bool

	// telegraf is set when the metric came from Telegraf's own parser.
	telegraf telegraf.Metric
}

// Reset empties m for reuse, keeping its buffers.
func (m *Metric) Reset() {
	m.Name = m.Name[:0]
	m.Tags = m.Tags[:0]
	m.Fields = m.Fields[:0]
	m.Time = 0
	m.telegraf = nil
	m.TagsSorted, m.FieldsSorted = false, false
}

// ToTelegraf returns the metric as a telegraf.Metric, copying it. The
// fields keep their order, as when Telegraf's parsers add them one by
// one: of a key given twice, the last value, at the place of the first
// (telegraf.Metric's AddField). Tags are sorted, as Telegraf holds them.
func (m *Metric) ToTelegraf() telegraf.Metric {
	if m.telegraf != nil {
		return m.telegraf
	}
	tags := make(map[string]string, len(m.Tags))
	for _, t := range m.Tags {
		tags[string(t.Key)] = string(t.Value)
	}
	tm := metric.New(string(m.Name), tags, nil, time.Unix(0, m.Time))
	for i := range m.Fields {
		tm.AddField(string(m.Fields[i].Key), m.Fields[i].Value())
	}
	return tm
}

func (m *Metric) String() string {
	return fmt.Sprintf("%s %d tags %d fields @%d", m.Name, len(m.Tags), len(m.Fields), m.Time)
}

// Decoder decodes one line. It calls fn for every valid metric on the line,
// in order. The error, if any, describes what was wrong with the line in
// one sentence; metrics passed to fn before or after a bad metric of the
// same batch stand.
type Decoder interface {
	Decode(line []byte, fn func(*Metric)) error
}
