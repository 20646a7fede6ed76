package redis_consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers"
	"github.com/influxdata/telegraf/plugins/parsers/csv"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/influxdata/telegraf/plugins/parsers/json_v2"
	"github.com/influxdata/telegraf/plugins/parsers/logfmt"
	"github.com/influxdata/telegraf/plugins/parsers/value"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// formatCase is a data format the issue names, with options of its own:
// the TOML of [[inputs.redis_consumer]], payloads, and Telegraf's own
// parser with the same options, made as its loader makes it (the
// registry with the plugin's name, then Init).
type formatCase struct {
	name, format, options string
	payloads              []string
	ref                   func(telegraf.Parser)
	// parseTime: the parser stamps metrics with the time of parsing, as
	// Telegraf's does (logfmt); the others take the payload's time, or
	// else the entry's.
	parseTime bool
}

var inputFormats = []formatCase{
	{
		name: "csv", format: "csv",
		options: `data_format = "csv"
csv_header_row_count = 1
csv_reset_mode = "always"
csv_tag_columns = ["host"]
csv_timestamp_column = "ts"
csv_timestamp_format = "unix"`,
		payloads: []string{"host,usage,ts\nweb-01,1.5,1795552004\nweb-02,2.25,1795552005\n", "ts,usage,host\n1795552006,3,web-03\n"},
		ref: func(p telegraf.Parser) {
			c := p.(*csv.Parser)
			c.HeaderRowCount, c.ResetMode, c.TagColumns = 1, "always", []string{"host"}
			c.TimestampColumn, c.TimestampFormat = "ts", "unix"
		},
	},
	{
		// No time in the data: the stream entry's.
		name: "csv without time", format: "csv",
		options: `data_format = "csv"
csv_column_names = ["host", "usage", "count"]
csv_column_types = ["string", "float", "int"]
csv_tag_columns = ["host"]`,
		payloads: []string{"web-01,1.5,3\nweb-02,2.25,4\n", "web-03,3,5\n"},
		ref: func(p telegraf.Parser) {
			c := p.(*csv.Parser)
			c.ColumnNames, c.ColumnTypes, c.TagColumns = []string{"host", "usage", "count"}, []string{"string", "float", "int"}, []string{"host"}
		},
	},
	{
		name: "json_v2", format: "json_v2",
		options: `data_format = "json_v2"
[[inputs.redis_consumer.json_v2]]
  measurement_name = "weather"
  timestamp_path = "ts"
  timestamp_format = "unix"
  [[inputs.redis_consumer.json_v2.tag]]
    path = "city"
  [[inputs.redis_consumer.json_v2.field]]
    path = "temp"
    type = "float"
  [[inputs.redis_consumer.json_v2.field]]
    path = "wind"
    type = "int"`,
		payloads: []string{`{"city":"Paris","temp":21.5,"wind":12,"ts":1795552004}`, `{"city":"Oslo","temp":-3,"wind":30,"ts":1795552005}`},
		ref: func(p telegraf.Parser) {
			j := p.(*json_v2.Parser)
			j.Configs = []json_v2.Config{{
				MeasurementName: "weather", TimestampPath: "ts", TimestampFormat: "unix",
				Tags:   []json_v2.DataSet{{Path: "city"}},
				Fields: []json_v2.DataSet{{Path: "temp", Type: "float"}, {Path: "wind", Type: "int"}},
			}}
		},
	},
	{
		name: "logfmt", format: "logfmt",
		options: `data_format = "logfmt"
logfmt_tag_keys = ["host"]`,
		payloads:  []string{`host=web-01 level=info took=1.5 msg="all good"`, "host=web-02 took=3 retries=2"},
		ref:       func(p telegraf.Parser) { p.(*logfmt.Parser).TagKeys = []string{"host"} },
		parseTime: true,
	},
	{
		// Named by measurement: built in, the plugin renames what
		// Telegraf's loader named after the plugin.
		name: "value", format: "value",
		options: `measurement = "sensor"
data_format = "value"
data_type = "float"
value_field_name = "reading"`,
		payloads: []string{"42.5", "-0.125"},
		ref: func(p telegraf.Parser) {
			v := p.(*value.Parser)
			v.MetricName, v.DataType, v.FieldName = "sensor", "float", "reading"
		},
	},
}

// telegrafMetrics is what Telegraf's parser of c gives each payload, the
// time of a metric the payload does not date being that of its entry
// (entryMs + its index); described, sorted.
func telegrafMetrics(t *testing.T, c formatCase, entryMs int64) []string {
	t.Helper()
	var out []string
	for i, payload := range c.payloads {
		p := parsers.Parsers[c.format](builtInMetricName)
		c.ref(p)
		if err := p.(telegraf.Initializer).Init(); err != nil {
			t.Fatal(err)
		}
		at := time.UnixMilli(entryMs + int64(i))
		if cp, ok := p.(*csv.Parser); ok {
			cp.SetTimeFunc(func() time.Time { return at })
		}
		ms, err := p.Parse([]byte(payload))
		if err != nil || len(ms) == 0 {
			t.Fatalf("Telegraf's %s parser: %v (%d metrics)", c.format, err, len(ms))
		}
		for _, m := range ms {
			if c.format == "value" {
				m.SetTime(at)
			}
			out = append(out, describeMetric(m, c.parseTime))
		}
	}
	slices.Sort(out)
	return out
}

// describeMetric writes a metric's name, tags, fields with their types,
// and time (unless it is the time of parsing).
func describeMetric(m telegraf.Metric, noTime bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q", m.Name())
	for _, tag := range m.TagList() {
		fmt.Fprintf(&b, " tag %q=%q", tag.Key, tag.Value)
	}
	fields := slices.Clone(m.FieldList())
	slices.SortFunc(fields, func(a, b *telegraf.Field) int { return strings.Compare(a.Key, b.Key) })
	for _, f := range fields {
		v := f.Value
		if x, ok := v.(float64); ok {
			v = math.Float64bits(x)
		}
		fmt.Fprintf(&b, " field %q=%T(%v)", f.Key, f.Value, v)
	}
	if !noTime {
		fmt.Fprintf(&b, " @%d", m.Time().UnixNano())
	}
	return b.String()
}

// readMetrics reads line protocol with Telegraf's parser; described,
// sorted. Metrics stamped with the time of parsing must be dated between
// from and to.
func readMetrics(t *testing.T, lines string, noTime bool, from, to time.Time) []string {
	t.Helper()
	p := &influx.Parser{}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	ms, err := p.Parse([]byte(lines))
	if err != nil {
		t.Fatalf("%v:\n%s", err, lines)
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		if noTime && (m.Time().Before(from.Truncate(time.Second)) || m.Time().After(to)) {
			t.Fatalf("%v: not dated between %v and %v", m, from, to)
		}
		out = append(out, describeMetric(m, noTime))
	}
	slices.Sort(out)
	return out
}

// addPayloads adds c's payloads to the stream key, field "p", with IDs from
// entryMs on.
func addPayloads(t *testing.T, srv *redistest.Server, key string, c formatCase, entryMs int64) {
	t.Helper()
	for i, payload := range c.payloads {
		if _, err := srv.Conn().Do("XADD", key, fmt.Sprintf("%d-0", entryMs+int64(i)), "p", payload); err != nil {
			t.Fatal(err)
		}
	}
}

// runInput runs bin/redis-input (built from this module) with a config of
// the [[inputs.redis_consumer]] options given: its stdout, what it
// logged, and its exit code.
func runInput(t *testing.T, options string, args ...string) (stdout, logs string, code int) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "redis-input.conf")
	if err := os.WriteFile(conf, []byte("[[inputs.redis_consumer]]\n"+options+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, telegraftest.Command(t, "redis-input"), append([]string{"-config", conf}, args...)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), stderr.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), stderr.String(), 0
}

// inputTelegrafConf is a config of bin/telegraf with [[inputs.redis_consumer]]
// of the options given, its metrics written to the file out as line
// protocol (sorted fields, unsigned integers kept), every second.
func inputTelegrafConf(t *testing.T, options, out string) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "telegraf.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`
[agent]
  interval = "1s"
  flush_interval = "200ms"
  omit_hostname = true
  skip_processors_after_aggregators = false

[[inputs.redis_consumer]]
%s

[[outputs.file]]
  files = [%q]
  data_format = "influx"
  influx_sort_fields = true
  influx_uint_support = true
`, options, out)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// TestDataFormatsIntegration: csv, json_v2, logfmt and value payloads of
// stream entries give, under execd (bin/redis-input) and built into
// Telegraf (bin/telegraf), the metrics Telegraf's own parser with the
// same options gives the same payloads; a metric the payload does not
// date takes its entry's time.
func TestDataFormatsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server and bin/telegraf")
	}
	srv := redistest.Start(t)
	const entryMs = 1795552004000
	for _, c := range inputFormats {
		t.Run(c.name, func(t *testing.T) {
			want := telegrafMetrics(t, c, entryMs)
			key := "s:" + strings.ReplaceAll(c.name, " ", "_")
			addPayloads(t, srv, key, c, entryMs)
			// The format's options last: they may open sub-tables.
			options := func(group string) string {
				return fmt.Sprintf("address = %q\nmode = \"stream\"\nkey = %q\ngroup = %q\nconsumer = \"c1\"\npayload_field = \"p\"\nblock = \"100ms\"\n%s",
					srv.Addr, key, group, c.options)
			}

			from := time.Now()
			stdout, logs, code := runInput(t, options("execd"), "-once")
			if code != 0 || strings.Contains(logs, "E! ") || strings.Contains(logs, "W! ") {
				t.Fatalf("exit %d:\n%s", code, logs)
			}
			if got := readMetrics(t, stdout, c.parseTime, from, time.Now()); !slices.Equal(got, want) {
				t.Fatalf("execd:\n%s\nTelegraf's parser:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}

			out := filepath.Join(t.TempDir(), "metrics.lp")
			from = time.Now()
			tg := telegraftest.Start(t, "telegraf", telegraftest.Telegraf(t), nil, "--config", inputTelegrafConf(t, options("builtin"), out))
			waitForLong(t, "the metrics in the file", func() bool {
				data, err := os.ReadFile(out)
				return err == nil && strings.Count(string(data), "\n") >= len(want)
			})
			if err := tg.Stop(15 * time.Second); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := readMetrics(t, string(data), c.parseTime, from, time.Now()); !slices.Equal(got, want) {
				t.Fatalf("built in:\n%s\nTelegraf's parser:\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), tg.Output())
			}
			if strings.Contains(tg.Output(), "E! ") {
				t.Fatalf("errors:\n%s", tg.Output())
			}
		})
	}
}

// waitForLong is waitFor with the time Telegraf takes to start.
func waitForLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// badCSV: csv rows of a string and a float; one key holds a float that is
// not one.
const badCSV = `data_format = "csv"
csv_column_names = ["host", "usage"]
csv_column_types = ["string", "float"]
csv_tag_columns = ["host"]`

// TestDataFormatBadPayloadReportedOnceIntegration (hostile): in keys mode
// a value the parser refuses is reported once however often it is read
// again, while the other keys are delivered at every gather; under execd
// and built in.
func TestDataFormatBadPayloadReportedOnceIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server and bin/telegraf")
	}
	srv := redistest.Start(t)
	srv.Do("SET", "m:good", "web-01,1.5")
	srv.Do("SET", "m:bad", "web-02,twelve")
	srv.Do("SET", "m:also", "web-03,2.5")
	options := fmt.Sprintf("address = %q\nmode = \"keys\"\nkey = \"m:*\"\n%s", srv.Addr, badCSV)
	const refused = `m:bad`

	// Execd: three gathers, one per line on stdin.
	conf := filepath.Join(t.TempDir(), "redis-input.conf")
	if err := os.WriteFile(conf, []byte("[[inputs.redis_consumer]]\n"+options+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(telegraftest.Command(t, "redis-input"), "-config", conf)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // the test failed before the end
			if err := cmd.Process.Kill(); err != nil {
				t.Log(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Log(err)
			}
		}
	})
	for i := 1; i <= 3; i++ {
		if _, err := io.WriteString(stdin, "\n"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a gather", func() bool { return strings.Count(stdout.String(), "\n") >= 2*i })
	}
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v:\n%s", err, stderr.String())
	}
	if n := strings.Count(stdout.String(), "redis_consumer,host=web-01 usage=1.5"); n != 3 || strings.Contains(stdout.String(), "web-02") {
		t.Fatalf("stdout:\n%s", stdout.String())
	}
	reported := logLinesWith(stderr.String(), refused)
	if len(reported) != 1 || !strings.HasPrefix(reported[0], "E! ") || !strings.Contains(reported[0], "twelve") {
		t.Fatalf("reported %q:\n%s", reported, stderr.String())
	}

	// Built in: a gather a second.
	out := filepath.Join(t.TempDir(), "metrics.lp")
	tg := telegraftest.Start(t, "telegraf", telegraftest.Telegraf(t), nil, "--config", inputTelegrafConf(t, options, out))
	waitForLong(t, "three gathers", func() bool {
		data, err := os.ReadFile(out)
		return err == nil && strings.Count(string(data), "redis_consumer,host=web-03 usage=2.5") >= 3
	})
	if err := tg.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	reported = logLinesWith(tg.Output(), refused)
	if len(reported) != 1 || !strings.Contains(reported[0], " E! ") || !strings.Contains(reported[0], "twelve") {
		t.Fatalf("reported %q:\n%s", reported, tg.Output())
	}
}

// logLinesWith are the lines of log that hold s, but debug lines.
func logLinesWith(log, s string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) && !strings.Contains(l, "D! ") {
			out = append(out, l)
		}
	}
	return out
}

// TestDataFormatRefusedAtStartIntegration (hostile): an option of another
// format, an unknown format, and a parser's option in a mode that parses
// nothing stop both ways of running at start, naming what is wrong.
func TestDataFormatRefusedAtStartIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs bin/telegraf")
	}
	cases := []struct {
		options, execd, builtIn string
	}{
		{"mode = \"keys\"\nkey = \"k*\"\ndata_format = \"logfmt\"\ncsv_delimiter = \";\"",
			`line 6: option "csv_delimiter": an option of data_format "csv", not of "logfmt"`,
			`configuration specified the fields ["csv_delimiter"], but they were not used`},
		{"mode = \"keys\"\nkey = \"k*\"\ndata_format = \"yaml\"",
			`line 5: option "data_format": "yaml" is not a parser of this program (want one of ["avro" "binary" "collectd" "csv"`,
			`undefined but requested parser: yaml`},
		{"influx_timestamp_precision = \"1s\"",
			`option influx_timestamp_precision: an option of data_format "influx", not read in quote mode`,
			`option influx_timestamp_precision: an option of data_format "influx", not read in quote mode`},
		{"mode = \"keys\"\nkey = \"k*\"\n" + badCSV + "\ncsv_delimiter = \"ab\"",
			`data_format "csv": csv_delimiter must be a single character, got: ab`,
			`csv_delimiter must be a single character, got: ab`},
	}
	for _, c := range cases {
		options := "address = \"127.0.0.1:1\"\n" + c.options
		_, logs, code := runInput(t, options)
		if code != 1 || !strings.Contains(logs, c.execd) || strings.Count(strings.TrimSpace(logs), "\n") != 0 {
			t.Errorf("execd, exit %d, want one line with %q:\n%s", code, c.execd, logs)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, telegraftest.Telegraf(t), "--config", inputTelegrafConf(t, options, filepath.Join(t.TempDir(), "x")), "--once")
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), c.builtIn) {
			t.Errorf("built in (%v), want %q:\n%s", err, c.builtIn, out)
		}
	}
}
