package redis_consumer

// The data formats of the input: what a Redis value is read as
// (data_format, any of Telegraf's parsers: payloadParser) and what is
// written to stdout (Telegraf's line protocol: output).

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/csv"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/influxdata/telegraf/plugins/parsers/influx/influx_upstream"
	"github.com/influxdata/telegraf/plugins/parsers/json"
	"github.com/influxdata/telegraf/plugins/parsers/value"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// parserOptions is data_format and the options of its parser. Built in,
// Telegraf's loader makes the parser with them and hands it to SetParser,
// as it does for [[inputs.kafka_consumer]]; under execd our loader decodes
// the same options into the same parser (pluginconfig.ParserFormat).
type parserOptions struct {
	DataFormat string `toml:"data_format"`
	pluginconfig.ParserFormat

	// parser is the one Telegraf's loader made, built in.
	parser telegraf.Parser
}

// SetParser takes the parser Telegraf's loader made of data_format and its
// options (telegraf.ParserPlugin). One loop of the mode parses (the
// subscription's, the stream's, Gather in keys mode), so one parser
// serves it, as in kafka_consumer.
func (o *parserOptions) SetParser(p telegraf.Parser) { o.parser = p }

var _ telegraf.ParserPlugin = (*RedisConsumer)(nil)

// builtInMetricName is the name Telegraf's loader gives the parser for the
// metrics the data does not name: the plugin's.
const builtInMetricName = "redis_consumer"

// payloadParser turns one Redis value (a message, a stream field, a string
// key) into metrics with the configured Telegraf parser.
type payloadParser struct {
	parse func([]byte) ([]telegraf.Metric, error)
	// setTime gives the parser the time of metrics whose payload has none.
	setTime func([]telegraf.Metric, time.Time)
	// timeFunc, for parsers that take a clock, sets it.
	timeFunc func(time.Time)
	// influx is Telegraf's own line protocol parser, when it is the one:
	// stream mode rewrites its payloads without it (lineprotocol.Rewriter).
	influx *influx.Parser
	// rename, built in, is measurement, for the metrics the parser named
	// builtInMetricName.
	rename string
}

// initParser prepares the parser of data_format: built in, the one
// Telegraf made (SetParser); under execd or configured in code, one of the
// file's options, measurement naming the metrics the data does not name.
func (o *parserOptions) initParser(measurement string, log telegraf.Logger) (*payloadParser, error) {
	parser := o.parser
	pp := &payloadParser{}
	if parser == nil {
		var err error
		if parser, err = o.NewParser(o.DataFormat, measurement, log); err != nil {
			return nil, err
		}
	} else if measurement != builtInMetricName {
		pp.rename = measurement
	}
	pp.parse = parser.Parse
	switch p := pluginconfig.Unwrap(parser).(type) {
	case *influx.Parser:
		// Line protocol without a timestamp takes the parser's clock.
		pp.influx = p
		pp.timeFunc = func(t time.Time) { p.SetTimeFunc(func() time.Time { return t }) }
	case *influx_upstream.Parser:
		pp.timeFunc = func(t time.Time) { p.SetTimeFunc(func() time.Time { return t }) }
	case *csv.Parser:
		// Rows without csv_timestamp_column take the parser's clock.
		pp.timeFunc = func(t time.Time) { p.SetTimeFunc(func() time.Time { return t }) }
	case *json.Parser:
		if p.TimeKey != "" && p.TimeFormat == "" {
			return nil, errors.New("option json_time_format: required with json_time_key")
		}
		if p.TimeKey == "" {
			pp.setTime = setTimes
		}
	case *value.Parser:
		pp.setTime = setTimes
	}
	return pp, nil
}

// precision is the influx parser's influx_timestamp_precision (0 for
// another parser, or none).
func (pp *payloadParser) precision() time.Duration {
	if pp == nil || pp.influx == nil {
		return 0
	}
	return time.Duration(pp.influx.InfluxTimestampPrecision)
}

// refuseUnusedFormat refuses, in the modes that parse nothing, the options
// of the parser: under execd the file names them; built in, Telegraf's
// loader has decoded them into the parser it made, and they are told from
// a new one with its defaults. data_format itself is refused with the
// plugin's own options.
func (o *parserOptions) refuseUnusedFormat(mode, hint string) error {
	names := o.FormatOptions()
	if o.parser != nil {
		name := o.ParserName(o.DataFormat)
		fresh, err := pluginconfig.FreshParser(name, builtInMetricName)
		if err != nil {
			return err
		}
		got := pluginconfig.Unwrap(o.parser)
		if reflect.TypeOf(got) != reflect.TypeOf(fresh) {
			names = []string{"influx_parser_type"}
		} else {
			names = pluginconfig.ChangedOptions(got, fresh)
		}
	}
	if len(names) > 0 {
		return fmt.Errorf("option %s: an option of data_format %q, not read in %s mode%s", names[0], pluginconfig.DataFormatName(o.DataFormat), mode, hint)
	}
	return nil
}

// setTimes is for parsers that stamp every metric with the time of parsing.
func setTimes(ms []telegraf.Metric, t time.Time) {
	for _, m := range ms {
		m.SetTime(t)
	}
}

// Parse parses data; metrics whose payload carries no time get def (with
// the parsers that tell: influx, csv, json, value; the others stamp the
// time of parsing, as in Telegraf). Data that holds no metric is an error,
// so that it is reported like bad data. Not safe for concurrent use; one
// loop per process parses.
func (pp *payloadParser) Parse(data []byte, def time.Time) ([]telegraf.Metric, error) {
	if pp.timeFunc != nil {
		pp.timeFunc(def)
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
	if pp.rename != "" {
		for _, m := range ms {
			if m.Name() == builtInMetricName {
				m.SetName(pp.rename)
			}
		}
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
	o := &output{w: w, leftOut: make(map[string]bool)}
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
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) } //nolint:gosec // G103: a copy allocates each name, key and value per metric

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
