package redis_consumer

import (
	"os"
	"strings"
	"testing"
	"time"

	tgconfig "github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/config"
)

// The parser options are read from the plugin's table into the parser
// data_format names, as Telegraf's loader does, and typos still refused.
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
		`option data_format: "yaml" is not a parser`: func(p *RedisConsumer) { p.Mode, p.Key, p.DataFormat = "keys", "k*", "yaml" },
		`option start_id: "now"`:                     func(p *RedisConsumer) { p.Mode, p.Key, p.StartID = "stream", "s", "now" },
		"option block: must be at least 1ms":         func(p *RedisConsumer) { p.Mode, p.Key, p.Block = "stream", "s", 0 },
		"option batch_size":                          func(p *RedisConsumer) { p.Mode, p.Key, p.BatchSize = "stream", "s", 0 },
		"option block: 5s must be shorter than timeout (5s)": func(p *RedisConsumer) {
			p.Mode, p.Key, p.Block = "stream", "s", tgconfig.Duration(5*time.Second)
		},
		`option on_parse_error: "drop"`: func(p *RedisConsumer) { p.Mode, p.Key, p.OnParseError = "stream", "s", "drop" },
		// Options of another mode or another format would be ignored.
		`option group: only read in stream mode (mode is "quote")`: func(p *RedisConsumer) { p.Group = "g" },
		`option channels: only read in subscribe mode`:             func(p *RedisConsumer) { p.Mode, p.Key, p.Channels = "keys", "k*", []string{"c"} },
		`option subscribe: only read in quote mode`:                func(p *RedisConsumer) { p.Mode, p.Key, p.Subscribe = "stream", "s", true },
		`option data_format: not read in quote mode`:               func(p *RedisConsumer) { p.DataFormat = "json" },
		"option tag_keys: not read in quote mode":                  func(p *RedisConsumer) { p.TagKeys = []string{"a"} },
		"option key: not read in subscribe mode":                   func(p *RedisConsumer) { p.Mode, p.Channels, p.Key = "subscribe", []string{"c"}, "k" },
		"option timestamp_units: only read in quote mode":          func(p *RedisConsumer) { p.Mode, p.Key, p.TimestampUnits = "keys", "k*", 1 },
	} {
		p := New()
		tune(p)
		err := p.Init()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
	// The parser's options, as the config file gives them: refused by the
	// loader (another format's) or by Init (where nothing is parsed, or a
	// value the parser refuses).
	for _, c := range []struct{ options, want string }{
		{"mode = \"keys\"\nkey = \"k*\"\ndata_format = \"json\"\njson_time_key = \"t\"", "option json_time_format: required"},
		{"mode = \"keys\"\nkey = \"k*\"\ndata_format = \"value\"\ndata_type = \"x\"", `data_format "value": unknown datatype "x"`},
		{"mode = \"stream\"\nkey = \"s\"\njson_time_key = \"t\"", `option "json_time_key": an option of data_format "json", not of "influx"`},
		{"mode = \"stream\"\nkey = \"s\"\ninflux_timestamp_precision = \"1s\"",
			`option influx_timestamp_precision: an option of data_format "influx", not read in stream mode without payload_field`},
		{"mode = \"stream\"\nkey = \"s\"\ninflux_parser_type = \"upstream\"",
			`option influx_parser_type: an option of data_format "influx", not read in stream mode`},
		{"mode = \"keys\"\nkey = \"k*\"\ndata_type = \"float\"", `option "data_type": an option of data_format "value", not of "influx"`},
		{"mode = \"keys\"\nkey = \"k*\"\njson_name_key = \"n\"", `option "json_name_key": an option of data_format "json", not of "influx"`},
		{"mode = \"keys\"\nkey = \"k*\"\ndata_format = \"json\"\ninflux_timestamp_precision = \"1s\"",
			`option "influx_timestamp_precision": an option of data_format "influx" or "influx_upstream", not of "json"`},
		{"mode = \"keys\"\nkey = \"k*\"\ninflux_timestamp_precision = \"7ns\"", "invalid time precision"},
	} {
		p := New()
		err := config.Decode("[[inputs.redis_consumer]]\n"+c.options+"\n", "inputs", "redis_consumer", p)
		if err == nil {
			err = p.Init()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: want %q, got %v", c.options, c.want, err)
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
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
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
