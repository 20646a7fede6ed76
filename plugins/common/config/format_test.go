package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	tconfig "github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/parsers/csv"
	"github.com/influxdata/telegraf/plugins/parsers/influx/influx_upstream"
	_ "github.com/influxdata/telegraf/plugins/parsers/json"
	_ "github.com/influxdata/telegraf/plugins/parsers/json_v2"
	_ "github.com/influxdata/telegraf/plugins/parsers/value"
	"github.com/influxdata/telegraf/plugins/serializers/carbon2"
	_ "github.com/influxdata/telegraf/plugins/serializers/graphite"
	_ "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/influxdata/telegraf/plugins/serializers/json"
)

type output struct {
	SerializerFormat
	Options
	Address            string           `toml:"address"`
	DataFormat         string           `toml:"data_format"`
	JSONTimestampUnits tconfig.Duration `toml:"json_timestamp_units"`
}

type input struct {
	ParserFormat
	Address    string   `toml:"address"`
	DataFormat string   `toml:"data_format"`
	TagKeys    []string `toml:"tag_keys"`
}

// TestFormatOptionsGoToTheFormat: the options of data_format are decoded
// into the serializer it names, as Telegraf's loader does, and one both
// read reaches both.
func TestFormatOptionsGoToTheFormat(t *testing.T) {
	var o output
	text := `[[outputs.redis]]
  address = "a"
  data_format = "carbon2"
  carbon2_format = "metric_includes_field"
  carbon2_sanitize_replace_char = "_"
`
	if err := Decode(text, "outputs", "redis", &o); err != nil {
		t.Fatal(err)
	}
	if o.Address != "a" || o.DataFormat != "carbon2" {
		t.Fatalf("plugin options: %+v", o)
	}
	if got := o.FormatOptions(); strings.Join(got, " ") != "carbon2_format carbon2_sanitize_replace_char" {
		t.Fatalf("format options %q", got)
	}
	s, err := o.NewSerializer(o.DataFormat, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := s.(*carbon2.Serializer)
	if !ok || c.Format != "metric_includes_field" || c.SanitizeReplaceChar != "_" {
		t.Fatalf("serializer %#v", s)
	}
	// Two serializers are two: the table is kept, not the struct.
	s2, err := o.NewSerializer(o.DataFormat, nil)
	if err != nil || s2 == s {
		t.Fatalf("second serializer %p %p (%v)", s2, s, err)
	}
	m := metric.New("cpu", map[string]string{"host": "a b"}, map[string]any{"usage": 1.5}, time.Unix(1795552004, 0))
	got, err := s.Serialize(m)
	if err != nil {
		t.Fatal(err)
	}
	want := "metric=cpu_usage host=a_b  1.5 1795552004\n"
	if string(got) != want {
		t.Fatalf("serialized %q, want %q", got, want)
	}

	var j output
	text = "[[outputs.redis]]\n  data_format = \"json\"\n  json_timestamp_units = \"1ms\"\n"
	if err := Decode(text, "outputs", "redis", &j); err != nil {
		t.Fatal(err)
	}
	s, err = j.NewSerializer(j.DataFormat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if j.JSONTimestampUnits != tconfig.Duration(time.Millisecond) || s.(*json.Serializer).TimestampUnits != tconfig.Duration(time.Millisecond) {
		t.Fatalf("json_timestamp_units: plugin %v, serializer %v", j.JSONTimestampUnits, s.(*json.Serializer).TimestampUnits)
	}
	if !j.IsSet("json_timestamp_units") {
		t.Fatal("json_timestamp_units not recorded as set")
	}
}

// TestFormatOptionsRefused: an option no one reads, an option of another
// format, an unknown format and a wrong type are each refused at load with
// one line that names the option and its line.
func TestFormatOptionsRefused(t *testing.T) {
	outputs := []struct{ body, want string }{
		{"data_format = \"graphite\"\ncarbon2_format = \"x\"", `line 3: option "carbon2_format": an option of data_format "carbon2", not of "graphite"`},
		{"data_format = \"carbon2\"\ncarbon2_formt = \"x\"", `line 3: unknown option "carbon2_formt" in [[outputs.redis]]`},
		{"carbon2_format = \"x\"", `line 2: option "carbon2_format": an option of data_format "carbon2", not of "influx"`},
		{"data_format = \"carbon3\"", `line 2: option "data_format": "carbon3" is not a serializer of this program (want one of [`},
		{"data_format = 7", `line 2: option "data_format": want a string`},
		{"data_format = \"influx\"\ninflux_sort_fields = \"yes\"", `line 3: option "influx_sort_fields": `},
		{"data_format = \"influx\"\ninflux_parser_type = \"upstream\"", `line 3: unknown option "influx_parser_type"`},
	}
	for _, c := range outputs {
		err := Decode("[[outputs.redis]]\n"+c.body+"\n", "outputs", "redis", &output{})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q:\n got %v\nwant %s...", c.body, err, c.want)
		}
	}
	for _, name := range []string{"carbon2", "graphite", "influx", "json"} {
		if !slices.Contains(SerializerNames(), name) {
			t.Errorf("serializer %s not listed", name)
		}
	}
	inputs := []struct{ body, want string }{
		{"data_format = \"json\"\ncsv_delimiter = \";\"", `line 3: option "csv_delimiter": an option of data_format "csv", not of "json"`},
		{"data_format = \"json\"\ninflux_parser_type = \"upstream\"",
			`line 3: option "influx_parser_type": only read with data_format = "influx" (it is "json")`},
		{"influx_parser_type = \"fast\"", `line 2: option "influx_parser_type": want "internal" or "upstream"`},
		{"data_format = \"yaml\"", `line 2: option "data_format": "yaml" is not a parser of this program (want one of [`},
		{"data_format = \"csv\"\ncsv_header_row_count = \"x\"", `line 3: option "csv_header_row_count": `},
		// metric_name is read by both csv and json: both are named.
		{"data_format = \"value\"\nmetric_name = \"m\"", `line 3: option "metric_name": an option of data_format "csv" or "json", not of "value"`},
	}
	for _, c := range inputs {
		err := Decode("[[inputs.redis]]\n"+c.body+"\n", "inputs", "redis", &input{})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q:\n got %v\nwant %s...", c.body, err, c.want)
		}
	}
}

// TestParserFormat: influx_parser_type = "upstream" makes "influx" the
// upstream parser; an option both the plugin and the parser read reaches
// both; the metric name is the plugin's choice.
func TestParserFormat(t *testing.T) {
	var in input
	if err := Decode("[[inputs.redis]]\n  influx_parser_type = \"upstream\"\n  influx_timestamp_precision = \"1s\"\n", "inputs", "redis", &in); err != nil {
		t.Fatal(err)
	}
	p, err := in.NewParser(in.DataFormat, "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	if up, ok := p.(*influx_upstream.Parser); !ok || up.InfluxTimestampPrecision != tconfig.Duration(time.Second) {
		t.Fatalf("parser %#v", p)
	}
	if got := in.FormatOptions(); strings.Join(got, " ") != "influx_parser_type influx_timestamp_precision" {
		t.Fatalf("format options %q", got)
	}

	in = input{}
	text := "[[inputs.redis]]\n  data_format = \"csv\"\n  csv_column_names = [\"a\", \"b\"]\n  csv_column_types = [\"int\", \"float\"]\n"
	if err := Decode(text, "inputs", "redis", &in); err != nil {
		t.Fatal(err)
	}
	p, err = in.NewParser(in.DataFormat, "sensor", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(*csv.Parser); !ok {
		t.Fatalf("parser %T", p)
	}
	ms, err := p.Parse([]byte("3,1.5\n"))
	if err != nil || len(ms) != 1 || ms[0].Name() != "sensor" || ms[0].Fields()["a"] != int64(3) || ms[0].Fields()["b"] != 1.5 {
		t.Fatalf("parsed %v (%v)", ms, err)
	}

	in = input{}
	if err := Decode("[[inputs.redis]]\n  data_format = \"json\"\n  tag_keys = [\"id\"]\n", "inputs", "redis", &in); err != nil {
		t.Fatal(err)
	}
	p, err = in.NewParser(in.DataFormat, "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err = p.Parse([]byte(`{"id":"x","v":1}`))
	if err != nil || len(ms) != 1 || ms[0].Tags()["id"] != "x" || len(in.TagKeys) != 1 {
		t.Fatalf("tag_keys: plugin %q, parsed %v (%v)", in.TagKeys, ms, err)
	}

	// Without a file: Telegraf's defaults.
	if _, err := (&ParserFormat{}).NewParser("value", "m", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := (&ParserFormat{}).NewParser("nope", "m", nil); err == nil || !strings.Contains(err.Error(), `option data_format: "nope" is not a parser`) {
		t.Fatalf("unknown parser: %v", err)
	}
}

// TestChangedOptions: built in, what the table gave a format is told from
// a fresh one.
func TestChangedOptions(t *testing.T) {
	fresh, err := FreshSerializer("carbon2")
	if err != nil {
		t.Fatal(err)
	}
	got, err := FreshSerializer("carbon2")
	if err != nil {
		t.Fatal(err)
	}
	if names := ChangedOptions(got, fresh); len(names) != 0 {
		t.Fatalf("fresh vs fresh: %q", names)
	}
	got.(*carbon2.Serializer).SanitizeReplaceChar = "_"
	if names := ChangedOptions(got, fresh); strings.Join(names, " ") != "carbon2_sanitize_replace_char" {
		t.Fatalf("changed: %q", names)
	}
	other, err := FreshSerializer("json")
	if err != nil {
		t.Fatal(err)
	}
	if names := ChangedOptions(got, other); names != nil {
		t.Fatalf("another format: %q", names)
	}
}

// TestFormatSubTableOptions: a format's sub-tables are decoded into it;
// an option of the plugin written after one (TOML puts it in the table)
// is named with the table, not taken for an unknown table.
func TestFormatSubTableOptions(t *testing.T) {
	text := `[[inputs.redis]]
  data_format = "json_v2"
  [[inputs.redis.json_v2]]
    measurement_name = "weather"
    [[inputs.redis.json_v2.field]]
      path = "temp"
`
	var in input
	if err := Decode(text, "inputs", "redis", &in); err != nil {
		t.Fatal(err)
	}
	p, err := in.NewParser(in.DataFormat, "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := p.Parse([]byte(`{"temp":21.5}`))
	if err != nil || len(ms) != 1 || ms[0].Name() != "weather" || ms[0].Fields()["temp"] != 21.5 {
		t.Fatalf("parsed %v (%v)", ms, err)
	}
	err = Decode(text+"  address = \"x\"\n", "inputs", "redis", &input{})
	want := `line 7: unknown option "address" in json_v2 of data_format "json_v2" (options after a [[...json_v2]] table belong to it)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
