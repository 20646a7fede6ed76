package redis_consumer

import (
	"errors"
	"fmt"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/influxdata/telegraf/plugins/parsers/json"
	"github.com/influxdata/telegraf/plugins/parsers/value"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
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
