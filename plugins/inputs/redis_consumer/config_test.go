package redis_consumer

import (
	"os"
	"strings"
	"testing"
	"time"

	tgconfig "github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/config"
)

// The parser options are Telegraf's own structs embedded in ours: they
// must be read from the plugin's table, and typos still refused.
func TestParserOptionsAreReadFromTheTable(t *testing.T) {
	p := New()
	err := config.Decode(`
[[inputs.redis_consumer]]
  mode = "subscribe"
  channels = ["a"]
  data_format = "json"
  json_time_key = "ts"
  json_time_format = "unix_ms"
  json_name_key = "name"
  json_string_fields = ["note"]
  tag_keys = ["room"]
`, "inputs", "redis_consumer", p)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	j := p.jsonParser
	if j.TimeKey != "ts" || j.TimeFormat != "unix_ms" || j.NameKey != "name" ||
		len(j.StringFields) != 1 || len(j.TagKeys) != 1 || j.TagKeys[0] != "room" || !j.Strict {
		t.Fatalf("json parser got %+v", j)
	}
	ms, err := p.parser.Parse([]byte(`{"name":"climate","ts":1795552004123,"room":"kitchen","temp":21.5,"note":"ok"}`), time.Time{})
	if err != nil || len(ms) != 1 {
		t.Fatal(ms, err)
	}
	m := ms[0]
	if m.Name() != "climate" || m.Time().UnixMilli() != 1795552004123 || m.Tags()["room"] != "kitchen" ||
		m.Fields()["temp"] != 21.5 || m.Fields()["note"] != "ok" {
		t.Fatalf("parsed %v", m)
	}

	// tag_keys is the JSON parser's option and ours: with another format
	// it is still read, for hash fields.
	p = New()
	err = config.Decode("[[inputs.redis_consumer]]\n  mode = \"keys\"\n  key = \"k*\"\n  tag_keys = [\"room\"]\n", "inputs", "redis_consumer", p)
	if err != nil || len(p.TagKeys) != 1 {
		t.Fatalf("tag_keys: %v %q", err, p.TagKeys)
	}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}

	err = config.Decode("[[inputs.redis_consumer]]\n  data_format = \"json\"\n  json_time_kye = \"ts\"\n", "inputs", "redis_consumer", New())
	if err == nil || !strings.Contains(err.Error(), `line 3: unknown option "json_time_kye"`) {
		t.Fatalf("typo: %v", err)
	}
	err = config.Decode("[[inputs.redis_consumer]]\n  data_type = 5\n", "inputs", "redis_consumer", New())
	if err == nil || !strings.Contains(err.Error(), `line 2: option "data_type"`) {
		t.Fatalf("wrong type: %v", err)
	}
}

func TestInitRefusesBadOptions(t *testing.T) {
	for want, tune := range map[string]func(*RedisConsumer){
		`option mode: "zset"`:                        func(p *RedisConsumer) { p.Mode = "zset" },
		"option address":                             func(p *RedisConsumer) { p.Address = "ftp://x" },
		"option channel: required":                   func(p *RedisConsumer) { p.Subscribe = true },
		"option channel: only read with subscribe":   func(p *RedisConsumer) { p.Channel = "c" },
		"option channels: subscribe mode needs":      func(p *RedisConsumer) { p.Mode = "subscribe" },
		"option key: required in stream mode":        func(p *RedisConsumer) { p.Mode = "stream" },
		"option key: required in keys mode":          func(p *RedisConsumer) { p.Mode = "keys" },
		`option data_format: "csv" is not supported`: func(p *RedisConsumer) { p.Mode, p.Key, p.DataFormat = "keys", "k*", "csv" },
		`option start_id: "now"`:                     func(p *RedisConsumer) { p.Mode, p.Key, p.StartID = "stream", "s", "now" },
		"option block: must be at least 1ms":         func(p *RedisConsumer) { p.Mode, p.Key, p.Block = "stream", "s", 0 },
		"option batch_size":                          func(p *RedisConsumer) { p.Mode, p.Key, p.BatchSize = "stream", "s", 0 },
		"option block: 5s must be shorter than timeout (5s)": func(p *RedisConsumer) {
			p.Mode, p.Key, p.Block = "stream", "s", tgconfig.Duration(5*time.Second)
		},
		`option on_parse_error: "drop"`:     func(p *RedisConsumer) { p.Mode, p.Key, p.OnParseError = "stream", "s", "drop" },
		"option json_time_format: required": func(p *RedisConsumer) { p.Mode, p.Key, p.DataFormat, p.TimeKey = "keys", "k*", "json", "t" },
		"option metric_name: use measurement": func(p *RedisConsumer) {
			p.Mode, p.Key, p.DataFormat, p.jsonParser.MetricName = "keys", "k*", "json", "m"
		},
		`option data_type: unknown datatype "x"`: func(p *RedisConsumer) { p.Mode, p.Key, p.DataFormat, p.DataType = "keys", "k*", "value", "x" },
		// Options of another mode or another format would be ignored.
		`option group: only read in stream mode (mode is "quote")`:  func(p *RedisConsumer) { p.Group = "g" },
		`option channels: only read in subscribe mode`:              func(p *RedisConsumer) { p.Mode, p.Key, p.Channels = "keys", "k*", []string{"c"} },
		`option subscribe: only read in quote mode`:                 func(p *RedisConsumer) { p.Mode, p.Key, p.Subscribe = "stream", "s", true },
		`option data_format: not read in quote mode`:                func(p *RedisConsumer) { p.DataFormat = "json" },
		`option json_time_key: not read in stream mode without`:     func(p *RedisConsumer) { p.Mode, p.Key, p.TimeKey = "stream", "s", "t" },
		`option data_type: only read with data_format = "value"`:    func(p *RedisConsumer) { p.Mode, p.Key, p.DataType = "keys", "k*", "float" },
		`option json_name_key: only read with data_format = "json"`: func(p *RedisConsumer) { p.Mode, p.Key, p.NameKey = "keys", "k*", "n" },
		`option influx_timestamp_precision: only read with`: func(p *RedisConsumer) {
			p.Mode, p.Key, p.DataFormat, p.InfluxTimestampPrecision = "keys", "k*", "json", 1
		},
		"option tag_keys: not read in quote mode":                   func(p *RedisConsumer) { p.TagKeys = []string{"a"} },
		"option key: not read in subscribe mode":                    func(p *RedisConsumer) { p.Mode, p.Channels, p.Key = "subscribe", []string{"c"}, "k" },
		"option timestamp_units: only read in quote mode":           func(p *RedisConsumer) { p.Mode, p.Key, p.TimestampUnits = "keys", "k*", 1 },
		`option influx_timestamp_precision: invalid time precision`: func(p *RedisConsumer) { p.Mode, p.Key, p.InfluxTimestampPrecision = "keys", "k*", 7 },
	} {
		p := New()
		tune(p)
		err := p.Init()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	p := New()
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	if p.Key != DefaultQuoteKey || p.Measurement != "currency_rate" || p.Address != "127.0.0.1:6379" {
		t.Fatalf("quote defaults: %q %q %q", p.Key, p.Measurement, p.Address)
	}
	p = New()
	p.Mode, p.Key = "stream", "s"
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if p.Measurement != "redis_consumer" || !strings.HasPrefix(p.Consumer, host+"-") || p.Group != "telegraf" {
		t.Fatalf("stream defaults: %q %q %q", p.Measurement, p.Consumer, p.Group)
	}
}

// The sample configuration, uncommented where it shows an example, loads.
func TestSampleConfigLoads(t *testing.T) {
	p := New()
	if err := config.Decode(p.SampleConfig(), "inputs", "redis_consumer", p); err != nil {
		t.Fatal(err)
	}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
}

// TestReadmeShowsTheSampleConfig keeps README.md's configuration section
// identical to the embedded sample.conf, as Telegraf's tooling does.
func TestReadmeShowsTheSampleConfig(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "```toml @sample.conf\n")
	block, _, ok2 := strings.Cut(after, "```\n")
	if !ok || !ok2 || block != New().SampleConfig() {
		t.Fatal("README.md's sample.conf block differs from sample.conf")
	}
}
