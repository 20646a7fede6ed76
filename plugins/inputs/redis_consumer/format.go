package redis_consumer

// The data formats of the input: what a Redis value is read as
// (data_format, with Telegraf's own parsers: payloadParser) and what is
// written to stdout (Telegraf's line protocol: output).

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unsafe"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/influxdata/telegraf/plugins/parsers/json"
	"github.com/influxdata/telegraf/plugins/parsers/value"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Telegraf's own parser structs, given names of their own so that the three
// can be embedded side by side. Embedded, their fields are options of our
// table under Telegraf's names (json_time_key, data_type,
// influx_timestamp_precision, ...), BurntSushi decodes them as it decodes
// ours, unknown options are still refused, and the decoded struct is the
// very parser we run: no copy of Telegraf's option list to keep in step.
type (
	jsonParser   = json.Parser
	valueParser  = value.Parser
	influxParser = influx.Parser
)

// parserOptions is data_format and the options of the three parsers.
type parserOptions struct {
	DataFormat string `toml:"data_format"`
	jsonParser
	valueParser
	influxParser
}

// formats are the supported values of data_format.
var formats = []string{"influx", "json", "value"}

// payloadParser turns one Redis value (a message, a stream field, a string
// key) into metrics with the configured Telegraf parser.
type payloadParser struct {
	parse func([]byte) ([]telegraf.Metric, error)
	// setTime gives the parser the time of metrics whose payload has none.
	setTime func([]telegraf.Metric, time.Time)
	influx  *influx.Parser
}

// initParser checks the parser options and prepares the parser for
// data_format; measurement names the metrics of formats without names, and
// tagKeys is the plugin's tag_keys (which shadows the JSON parser's).
// Options of the other formats must not be set.
func (o *parserOptions) initParser(set *pluginconfig.Options, defaults *parserOptions, measurement string, tagKeys []string) (*payloadParser, error) {
	// tag_keys (the JSON parser's field) is the plugin's own option too:
	// refuseOtherModes checks it.
	others := map[string]string{
		"influx": set.FirstUsed(&o.influxParser, &defaults.influxParser),
		"json":   set.FirstUsed(&o.jsonParser, &defaults.jsonParser, "tag_keys"),
		"value":  set.FirstUsed(&o.valueParser, &defaults.valueParser),
	}
	if _, ok := others[o.DataFormat]; !ok {
		return nil, fmt.Errorf("option data_format: %q is not supported (want one of %q)", o.DataFormat, formats)
	}
	for _, f := range formats {
		if name := others[f]; f != o.DataFormat && name != "" {
			return nil, fmt.Errorf("option %s: only read with data_format = %q (it is %q)", name, f, o.DataFormat)
		}
	}

	pp := &payloadParser{}
	switch o.DataFormat {
	case "influx":
		p := &o.influxParser
		if err := p.Init(); err != nil {
			return nil, fmt.Errorf("option influx_timestamp_precision: %w", err)
		}
		pp.parse, pp.influx = p.Parse, p
	case "json":
		p := &o.jsonParser
		if p.MetricName != "" {
			return nil, errors.New("option metric_name: use measurement")
		}
		p.MetricName, p.TagKeys = measurement, tagKeys
		if err := p.Init(); err != nil {
			return nil, fmt.Errorf("json options: %w", err)
		}
		if p.TimeKey != "" && p.TimeFormat == "" {
			return nil, errors.New("option json_time_format: required with json_time_key")
		}
		pp.parse = p.Parse
		if p.TimeKey == "" {
			pp.setTime = setTimes
		}
	case "value":
		p := &o.valueParser
		p.MetricName = measurement
		if err := p.Init(); err != nil {
			return nil, fmt.Errorf("option data_type: %w", err)
		}
		pp.parse, pp.setTime = p.Parse, setTimes
	}
	return pp, nil
}

// setTimes is for parsers that stamp every metric with the time of parsing.
func setTimes(ms []telegraf.Metric, t time.Time) {
	for _, m := range ms {
		m.SetTime(t)
	}
}

// Parse parses data; metrics whose payload carries no time get def. Data
// that holds no metric is an error, so that it is reported like bad data.
// Not safe for concurrent use; one loop per process parses.
func (pp *payloadParser) Parse(data []byte, def time.Time) ([]telegraf.Metric, error) {
	if pp.influx != nil {
		// Line protocol without a timestamp takes the parser's clock.
		pp.influx.SetTimeFunc(func() time.Time { return def })
	}
	ms, err := pp.parse(data)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, errors.New("no metric in the data")
	}
	if pp.setTime != nil {
		pp.setTime(ms, def)
	}
	return ms, nil
}

// maxKept bounds the sets of problems already logged (stream entries kept
// after a parse error, metrics left out): past it a set starts again, and
// they are logged again.
const maxKept = 100000

// output writes line protocol to stdout (nanosecond timestamps, what
// [[inputs.execd]]'s influx parser expects) with our own encoder: byte for
// byte what Telegraf's influx serializer writes with sorted fields and
// unsigned integers kept unsigned (Telegraf's influx parser reads them),
// without its allocations. A gather or a batch is serialized whole and
// written with one Write, so Telegraf sees it at once and nothing waits in
// a buffer. It is shared by the loops of a mode (quote with subscribe has
// two), hence the lock.
type output struct {
	mu  sync.Mutex
	w   io.Writer
	enc lineprotocol.Encoder
	m   metricline.Metric // a telegraf.Metric seen through our types
	// leftOut: the errors of metrics emit left out, each logged once
	// (a gather reads the same bad key again and again).
	leftOut map[string]bool
}

// StdoutError means stdout could not be written: Telegraf is gone, and the
// process should end without acknowledging anything more.
type StdoutError struct{ Err error }

func (e *StdoutError) Error() string { return fmt.Sprintf("writing to stdout: %v", e.Err) }
func (e *StdoutError) Unwrap() error { return e.Err }

// newOutput writes to w. The tags its encoder cuts of trailing
// backslashes are named with log's W!, once per tag key, and so are those
// of the stream writers that share its Trims (shareTrims); nil log: not
// named.
func newOutput(w io.Writer, log telegraf.Logger) *output {
	o := &output{w: w, leftOut: map[string]bool{}}
	if log != nil {
		o.enc.Trims = lineprotocol.NewTrims(log.Warnf)
	}
	return o
}

// serialize appends the line protocol of ms to buf. A metric that cannot be
// written (no field left, no name, a name or key line protocol cannot
// carry: see lineprotocol.CarryError) is an error, so the caller can treat
// its source as bad data.
func (o *output) serialize(buf []byte, ms []telegraf.Metric) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	start := len(buf)
	for _, m := range ms {
		o.view(m)
		var err error
		if buf, err = o.enc.AppendMetric(buf, &o.m); err != nil {
			return buf[:start], err
		}
		buf = append(buf, '\n')
	}
	return buf, nil
}

// view points o.m at m's name, tags and fields, without copying them: the
// encoder only reads.
func (o *output) view(m telegraf.Metric) {
	v := &o.m
	v.Name = bytesOf(m.Name())
	v.Tags = v.Tags[:0]
	for _, t := range m.TagList() {
		v.Tags = append(v.Tags, metricline.Tag{Key: bytesOf(t.Key), Value: bytesOf(t.Value)})
	}
	v.Fields = v.Fields[:0]
	for _, f := range m.FieldList() {
		field := metricline.Field{Key: bytesOf(f.Key)}
		switch x := f.Value.(type) {
		case float64:
			field.Kind, field.Float = metricline.Float, x
		case int64:
			field.Kind, field.Int = metricline.Int, x
		case uint64:
			field.Kind, field.Uint = metricline.Uint, x
		case string:
			field.Kind, field.Str = metricline.String, bytesOf(x)
		case bool:
			field.Kind, field.Bool = metricline.Bool, x
		}
		// Any other type has no Kind: left out, as Telegraf's serializer
		// leaves it out.
		v.Fields = append(v.Fields, field)
	}
	v.Time = m.Time().UnixNano()
}

// bytesOf is s as bytes without a copy; never written to.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// write sends what serialize built, in one Write.
func (o *output) write(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.w.Write(buf); err != nil {
		return &StdoutError{err}
	}
	return nil
}

// emit serializes and writes ms; metrics that cannot be serialized are
// reported, each error once (at debug level after), and left out.
func (o *output) emit(ms []telegraf.Metric, log telegraf.Logger) error {
	var buf []byte
	for _, m := range ms {
		b, err := o.serialize(buf, []telegraf.Metric{m})
		if err != nil {
			o.reportLeftOut(log, fmt.Sprintf("metric %s left out: %v", m.Name(), err))
		}
		buf = b
	}
	return o.write(buf)
}

func (o *output) reportLeftOut(log telegraf.Logger, msg string) {
	o.mu.Lock()
	seen := o.leftOut[msg]
	if !seen {
		if len(o.leftOut) >= maxKept {
			clear(o.leftOut)
		}
		o.leftOut[msg] = true
	}
	o.mu.Unlock()
	if seen {
		log.Debugf("%s (again)", msg)
		return
	}
	log.Errorf("%s", msg)
}

// isStdout tells a stdout failure (fatal) from a Redis one (retried).
func isStdout(err error) bool {
	var se *StdoutError
	return errors.As(err, &se)
}
