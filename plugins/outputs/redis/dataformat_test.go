package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/serializers"
	"github.com/influxdata/telegraf/plugins/serializers/binary"
	"github.com/influxdata/telegraf/plugins/serializers/carbon2"
	"github.com/influxdata/telegraf/plugins/serializers/graphite"
	"github.com/influxdata/telegraf/plugins/serializers/json"
	"github.com/influxdata/telegraf/plugins/serializers/msgpack"
	"github.com/influxdata/telegraf/plugins/serializers/prometheus"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// formatLines are what [[outputs.execd]] writes with data_format =
// "influx": fields out of order, every value type, a second series.
const formatLines = `cpu,host=web-01,dc=eu-west usage_user=1.25,usage_idle=97.5,n=3i,u=7u,ok=true,note="a b" 1795552004000000000
cpu,host=web-02,dc=eu-west usage_user=2.5,usage_idle=95 1795552005000000000
disk,host=web-01,path=/var free=1024i,used_percent=61.25 1795552006123000000
`

// formatCases are the formats the issue names, each with options of its
// own: the TOML of [[outputs.redis]], and Telegraf's serializer with the
// same options, made as its loader makes it (the registry, then Init).
var formatCases = []struct {
	name    string
	options string
	ref     func(telegraf.Serializer)
}{
	{"carbon2", "data_format = \"carbon2\"\ncarbon2_format = \"metric_includes_field\"\ncarbon2_sanitize_replace_char = \"_\"",
		func(s telegraf.Serializer) {
			c := s.(*carbon2.Serializer)
			c.Format, c.SanitizeReplaceChar = "metric_includes_field", "_"
		}},
	{"graphite", "data_format = \"graphite\"\nprefix = \"tg\"\ngraphite_tag_support = true\ngraphite_separator = \"_\"",
		func(s telegraf.Serializer) {
			g := s.(*graphite.Serializer)
			g.Prefix, g.TagSupport, g.Separator = "tg", true, "_"
		}},
	{"msgpack", "data_format = \"msgpack\"", func(telegraf.Serializer) {}},
	{"prometheus", "data_format = \"prometheus\"\nprometheus_export_timestamp = true\nprometheus_sort_metrics = true\n" +
		"[outputs.redis.prometheus_metric_types]\n  counter = [\"*_total\", \"n\"]",
		func(s telegraf.Serializer) {
			p := s.(*prometheus.Serializer)
			p.ExportTimestamp, p.SortMetrics = true, true
			p.TypeMappings.Counter = []string{"*_total", "n"}
		}},
}

// telegrafBytes is what Telegraf's serializer of format name, set up by
// ref, gives each metric of lines (read by Telegraf's influx parser);
// metrics it writes nothing for are left out.
func telegrafBytes(t *testing.T, name string, ref func(telegraf.Serializer), lines string) []string {
	t.Helper()
	s := serializers.Serializers[name]()
	ref(s)
	if i, ok := s.(telegraf.Initializer); ok {
		if err := i.Init(); err != nil {
			t.Fatal(err)
		}
	}
	ms := parseLines(t, lines)
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		b, err := s.Serialize(m)
		if err != nil || len(b) == 0 {
			continue
		}
		out = append(out, string(b))
	}
	if len(out) == 0 {
		t.Fatalf("%s writes nothing", name)
	}
	return out
}

// runExecd runs bin/redis-output (built from this module) with a config
// of the [[outputs.redis]] options given, reading stdin to its end; it
// returns what it logged and its exit code.
func runExecd(t *testing.T, options, stdin string) (string, int) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "redis-output.conf")
	if err := os.WriteFile(conf, []byte("[[outputs.redis]]\n"+options+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(telegraftest.Command(t, "redis-output"), "-config", conf, "-log_info", "stderr")
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stderr.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return stderr.String(), 0
}

// telegrafConf writes a config for bin/telegraf with [[outputs.redis]] of
// the options given, fed lines by [[inputs.execd]] (parsed by Telegraf's
// influx parser).
func telegrafConf(t *testing.T, options, lines string) string {
	t.Helper()
	dir := t.TempDir()
	input := filepath.Join(dir, "lines.lp")
	if err := os.WriteFile(input, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "telegraf.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`
[agent]
  interval = "1s"
  flush_interval = "200ms"
  omit_hostname = true
  skip_processors_after_aggregators = false

[[inputs.execd]]
  command = ["sh", "-c", "cat %s; exec sleep 3600"]
  signal = "none"
  data_format = "influx"

[[outputs.redis]]
%s
`, input, options)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// startTelegraf runs bin/telegraf with telegrafConf until the test ends.
func startTelegraf(t *testing.T, options, lines string) *telegraftest.Process {
	t.Helper()
	bin := telegraftest.Telegraf(t)
	return telegraftest.Start(t, "telegraf", bin, nil, "--config", telegrafConf(t, options, lines))
}

// runTelegrafToEnd runs bin/telegraf with a telegrafConf it refuses: its
// output and exit code.
func runTelegrafToEnd(t *testing.T, options string) (string, int) {
	t.Helper()
	bin := telegraftest.Telegraf(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config", telegrafConf(t, options, "x v=1 1\n"))
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func waitForLen(t *testing.T, srv *redistest.Server, key string, n int, logs func() string) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		items, err := redis.Strings(srv.Conn().Do("LRANGE", key, 0, -1))
		if err == nil && len(items) >= n {
			return items
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d values in %s; log:\n%s", len(items), n, key, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameValues holds the values in Redis to Telegraf's, byte for byte.
// carbon2 and graphite write a line per field and msgpack a map of the
// tags and fields, all in Go's map order, which Telegraf's serializers
// change from one call to the next: a value of theirs is the same when it
// holds the same lines, or decodes to the same msgpack document.
func sameValues(t *testing.T, format string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d:\n got %q\nwant %q", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] && canonical(t, format, got[i]) != canonical(t, format, want[i]) {
			t.Fatalf("value %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}

func canonical(t *testing.T, format, value string) string {
	t.Helper()
	switch format {
	case "carbon2", "graphite":
		lines := strings.SplitAfter(value, "\n")
		slices.Sort(lines)
		return strings.Join(lines, "")
	case "msgpack":
		var m msgpack.Metric
		if rest, err := m.UnmarshalMsg([]byte(value)); err != nil || len(rest) != 0 {
			t.Fatalf("msgpack %q: %v, %d bytes left", value, err, len(rest))
		}
		return fmt.Sprintf("%#v", m) // fmt prints maps sorted by key
	}
	return value
}

// TestDataFormatsExecdIntegration: under execd, each format's values in
// Redis are, byte for byte, what Telegraf's own serializer with the same
// options gives the same metrics (list mode keeps them all, in order).
func TestDataFormatsExecdIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t)
	for _, c := range formatCases {
		t.Run(c.name, func(t *testing.T) {
			key := "l:" + c.name
			logs, code := runExecd(t, fmt.Sprintf("address = %q\nmode = \"list\"\nkey = %q\n%s", srv.Addr, key, c.options), formatLines)
			if code != 0 || strings.Contains(logs, "E! ") {
				t.Fatalf("exit %d:\n%s", code, logs)
			}
			want := telegrafBytes(t, c.name, c.ref, formatLines)
			sameValues(t, c.name, waitForLen(t, srv, key, len(want), func() string { return logs }), want)
		})
	}
}

// TestDataFormatsBuiltInIntegration: built into Telegraf (bin/telegraf),
// the same, with the serializer Telegraf's loader made and handed to
// SetSerializer.
func TestDataFormatsBuiltInIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server and bin/telegraf")
	}
	srv := redistest.Start(t)
	for _, c := range formatCases {
		t.Run(c.name, func(t *testing.T) {
			key := "l:" + c.name
			tg := startTelegraf(t, fmt.Sprintf("address = %q\nmode = \"list\"\nkey = %q\n%s", srv.Addr, key, c.options), formatLines)
			want := telegrafBytes(t, c.name, c.ref, formatLines)
			sameValues(t, c.name, waitForLen(t, srv, key, len(want), tg.Output), want)
			if strings.Contains(tg.Output(), "E! ") {
				t.Fatalf("errors:\n%s", tg.Output())
			}
		})
	}
}

// TestDataFormatStreamPayloadIntegration: stream mode with payload_field
// serializes with data_format too, under execd and built in alike.
func TestDataFormatStreamPayloadIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server and bin/telegraf")
	}
	srv := redistest.Start(t)
	c := formatCases[0]
	want := telegrafBytes(t, c.name, c.ref, formatLines)
	payloads := func(key string) []string {
		entries, err := redis.Values(srv.Conn().Do("XRANGE", key, "-", "+"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			ev, err := redis.Values(e, nil)
			if err != nil {
				t.Fatal(err)
			}
			kv, err := redis.StringMap(ev[1], nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, kv["payload"])
		}
		return out
	}
	options := fmt.Sprintf("address = %q\nmode = \"stream\"\npayload_field = \"payload\"\n%s", srv.Addr, c.options)
	logs, code := runExecd(t, options+"\nkey = \"execd\"", formatLines)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, logs)
	}
	sameValues(t, c.name, payloads("execd"), want)

	tg := startTelegraf(t, options+"\nkey = \"builtin\"", formatLines)
	deadline := time.Now().Add(30 * time.Second)
	for len(payloads("builtin")) < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("stream builtin: %q\n%s", payloads("builtin"), tg.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sameValues(t, c.name, payloads("builtin"), want)
}

// binaryOptions: Telegraf's binary serializer, which fails a metric
// without the field an entry reads.
const binaryOptions = `data_format = "binary"
endianness = "little"
[[outputs.redis.entries]]
  read_from = "field"
  name = "usage_idle"
  data_format = "float64"
[[outputs.redis.entries]]
  read_from = "time"
  time_format = "unix_ms"
  data_format = "int64"`

// TestDataFormatRefusesAMetricAloneIntegration (hostile): a metric the
// serializer fails (no usage_idle for the binary serializer), or writes
// nothing for (prometheus, of a metric of string fields only), is refused
// with a line naming it, and every other metric is written, as Telegraf's
// serializer writes it; under execd and built in.
func TestDataFormatRefusesAMetricAloneIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server and bin/telegraf")
	}
	srv := redistest.Start(t)
	lines := formatLines + "text,host=web-01 note=\"only a string\" 1795552007000000000\n"
	cases := []struct {
		name, options, refused string
		ref                    func(telegraf.Serializer)
	}{
		{"binary", binaryOptions, `data_format "binary": field usage_idle not found`, func(s telegraf.Serializer) {
			b := s.(*binary.Serializer)
			b.Endianness = "little"
			b.Entries = []*binary.Entry{
				{ReadFrom: "field", Name: "usage_idle", DataFormat: "float64"},
				{ReadFrom: "time", TimeFormat: "unix_ms", DataFormat: "int64"},
			}
		}},
		{"prometheus", "data_format = \"prometheus\"\nprometheus_sort_metrics = true", `data_format "prometheus" writes nothing for this metric`,
			func(s telegraf.Serializer) { s.(*prometheus.Serializer).SortMetrics = true }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := telegrafBytes(t, c.name, c.ref, lines)
			options := fmt.Sprintf("address = %q\nmode = \"list\"\n%s", srv.Addr, c.options)
			logs, code := runExecd(t, "key = \"execd:"+c.name+"\"\n"+options, lines)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, logs)
			}
			sameValues(t, c.name, waitForLen(t, srv, "execd:"+c.name, len(want), func() string { return logs }), want)
			if n := strings.Count(logs, "E! "); n == 0 || n != strings.Count(logs, c.refused) {
				t.Fatalf("refusals (want each with %q):\n%s", c.refused, logs)
			}

			tg := startTelegraf(t, "key = \"builtin:"+c.name+"\"\n"+options, lines)
			sameValues(t, c.name, waitForLen(t, srv, "builtin:"+c.name, len(want), tg.Output), want)
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(tg.Output(), c.refused) {
				if time.Now().After(deadline) {
					t.Fatalf("no refusal %q:\n%s", c.refused, tg.Output())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

const unusedSortFields = `option influx_sort_fields: an option of data_format "influx", ` +
	`the serializer of publish, list, string and stream with payload_field; here mode = "hash"`

// TestDataFormatRefusedAtStartIntegration (hostile): an option of another
// format, an unknown format, and a serializer's option in a mode that
// serializes nothing stop both ways of running at start, naming what is
// wrong; nothing is written.
func TestDataFormatRefusedAtStartIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs bin/telegraf")
	}
	cases := []struct {
		options, execd, builtIn string
	}{
		{"mode = \"list\"\ndata_format = \"graphite\"\ncarbon2_format = \"metric_includes_field\"",
			`line 5: option "carbon2_format": an option of data_format "carbon2", not of "graphite"`,
			`configuration specified the fields ["carbon2_format"], but they were not used`},
		{"mode = \"list\"\ndata_format = \"yaml\"",
			`line 4: option "data_format": "yaml" is not a serializer of this program ` +
				`(want one of ["binary" "carbon2" "cloudevents" "csv" "graphite" "influx" "json" "msgpack"`,
			`undefined but requested serializer: yaml`},
		{"mode = \"hash\"\ninflux_sort_fields = true",
			unusedSortFields, unusedSortFields},
		{"mode = \"list\"\ndata_format = \"carbon2\"\ncarbon2_format = \"sideways\"",
			`data_format "carbon2": unknown carbon2 format: sideways`,
			`unknown carbon2 format: sideways`},
	}
	for _, c := range cases {
		options := "address = \"127.0.0.1:1\"\n" + c.options
		logs, code := runExecd(t, options, "cpu v=1 1\n")
		if code != 1 || !strings.Contains(logs, c.execd) || strings.Count(strings.TrimSpace(logs), "\n") != 0 {
			t.Errorf("execd, exit %d, want one line with %q:\n%s", code, c.execd, logs)
		}
		out, code := runTelegrafToEnd(t, options)
		if code == 0 || !strings.Contains(out, c.builtIn) {
			t.Errorf("built in, exit %d, want %q:\n%s", code, c.builtIn, out)
		}
	}
}

// TestDataFormatOptions: in process, the options reach the serializer or
// are refused; the influx and json serializers with options our encoders
// follow are written by them, any other by Telegraf's code.
func TestDataFormatOptions(t *testing.T) {
	load := func(options string) (*Redis, error) {
		r := New()
		err := pluginconfig.Decode("[[outputs.redis]]\n"+options+"\n", "outputs", "redis", r)
		if err == nil {
			err = r.Init()
		}
		return r, err
	}
	for options, telegrafs := range map[string]bool{
		"mode = \"list\"": false,
		"mode = \"list\"\ninflux_sort_fields = true":                              false,
		"mode = \"list\"\ninflux_uint_support = true":                             false,
		"mode = \"list\"\ninflux_omit_timestamp = true":                           true,
		"mode = \"list\"\ninflux_max_line_bytes = 64":                             true,
		"mode = \"list\"\ndata_format = \"json\"":                                 false,
		"mode = \"list\"\ndata_format = \"json\"\njson_timestamp_units = \"1ms\"": false,
		"mode = \"list\"\ndata_format = \"json\"\njson_transformation = \"$\"":    true,
		"mode = \"list\"\ndata_format = \"carbon2\"":                              true,
		"mode = \"publish\"\ndata_format = \"msgpack\"":                           true,
		"mode = \"list\"\nuse_batch_format = true":                                true,
	} {
		r, err := load(options)
		if err != nil {
			t.Errorf("%q: %v", options, err)
			continue
		}
		if r.telegrafFormat != telegrafs {
			t.Errorf("%q: Telegraf's serializer %v, want %v", options, r.telegrafFormat, telegrafs)
		}
	}
	for options, want := range map[string]string{
		"mode = \"hash\"\ninflux_sort_fields = true":                              `option influx_sort_fields: an option of data_format "influx"`,
		"mode = \"stream\"\ninflux_uint_support = true":                           `here mode = "stream" without payload_field`,
		"mode = \"list\"\ndata_format = \"json\"\ninflux_sort_fields = true":      `"influx_sort_fields": an option of data_format "influx", not of "json"`,
		"mode = \"list\"\ncarbon2_format = \"x\"":                                 `"carbon2_format": an option of data_format "carbon2", not of "influx"`,
		"mode = \"list\"\ndata_format = \"json\"\njson_timestamp_units = \"7ms\"": "option json_timestamp_units: 7ms is not a power of ten",
		"mode = \"hash\"\nuse_batch_format = true":                                `option use_batch_format: only read with modes "publish", "list", "string"`,
	} {
		if _, err := load(options); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want %q, got %v", options, want, err)
		}
	}
}

// batchLines: two hosts, so two keys; web-01's metrics are not adjacent.
const batchLines = `cpu,host=web-01 usage=1.25 1795552004000000000
cpu,host=web-02 usage=2.5 1795552004000000000
mem,host=web-01 free=1024i,used=61.25 1795552005000000000
cpu,host=web-01 usage=3 1795552006000000000
`

// sameBatches holds the values of one key, written with use_batch_format,
// to Telegraf's serializer: each is what SerializeBatch gives a run of
// the key's metrics, and the runs are all of them, in order (how many
// batches a flush makes depends on when the lines were read).
func sameBatches(t *testing.T, s telegraf.Serializer, values []string, ms []telegraf.Metric) {
	t.Helper()
	pos := 0
	for _, v := range values {
		n := 0
		for j := pos + 1; j <= len(ms) && n == 0; j++ {
			if b, err := s.SerializeBatch(ms[pos:j]); err == nil && string(b) == v {
				n = j - pos
			}
		}
		if n == 0 {
			t.Fatalf("value %q is no batch of the metrics from %d of %v", v, pos, ms)
		}
		pos += n
	}
	if pos != len(ms) {
		t.Fatalf("values %q hold %d of the %d metrics", values, pos, len(ms))
	}
}

// metricsOf are the metrics of lines whose host tag is host.
func metricsOf(t *testing.T, lines, host string) []telegraf.Metric {
	t.Helper()
	var out []telegraf.Metric
	for _, m := range parseLines(t, lines) {
		if m.Tags()["host"] == host {
			out = append(out, m)
		}
	}
	return out
}

// TestDataFormatBatchIntegration: with use_batch_format, the metrics of a
// batch for one key are one value, what Telegraf's serializer's
// SerializeBatch gives them (json: {"metrics":[...]}; prometheus: one
// exposition); under execd and built in. Hostile: a metric the
// serializer refuses is left out of its key's value with a line, and the
// rest of the batch written.
func TestDataFormatBatchIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server and bin/telegraf")
	}
	srv := redistest.Start(t)
	lines := batchLines + "disk,host=web-02 free=3i 1795552007000000000\n"
	cases := []struct {
		name, options, refused string
		ref                    func(telegraf.Serializer)
	}{
		{"json", "data_format = \"json\"\njson_timestamp_units = \"1ms\"", "", func(s telegraf.Serializer) {
			s.(*json.Serializer).TimestampUnits = config.Duration(time.Millisecond)
		}},
		{"prometheus", "data_format = \"prometheus\"\nprometheus_sort_metrics = true", "", func(s telegraf.Serializer) {
			s.(*prometheus.Serializer).SortMetrics = true
		}},
		// mem and disk have no usage: the binary serializer fails them.
		{"binary", strings.Replace(binaryOptions, "usage_idle", "usage", 1), `not written: data_format "binary": field usage not found`,
			func(s telegraf.Serializer) {
				b := s.(*binary.Serializer)
				b.Endianness = "little"
				b.Entries = []*binary.Entry{
					{ReadFrom: "field", Name: "usage", DataFormat: "float64"},
					{ReadFrom: "time", TimeFormat: "unix_ms", DataFormat: "int64"},
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := serializers.Serializers[c.name]()
			c.ref(s)
			if err := s.(telegraf.Initializer).Init(); err != nil {
				t.Fatal(err)
			}
			check := func(prefix string, logs func() string) {
				for _, host := range []string{"web-01", "web-02"} {
					ms := metricsOf(t, lines, host)
					if c.refused != "" {
						ms = slices.DeleteFunc(ms, func(m telegraf.Metric) bool { return m.Fields()["usage"] == nil })
					}
					values := waitForBatches(t, srv, prefix+host, s, ms, logs)
					sameBatches(t, s, values, ms)
				}
			}
			options := fmt.Sprintf("address = %q\nmode = \"list\"\nuse_batch_format = true\n%s", srv.Addr, c.options)
			logs, code := runExecd(t, "key = 'execd:"+c.name+":{{.Tag \"host\"}}'\n"+options, lines)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, logs)
			}
			check("execd:"+c.name+":", func() string { return logs })
			if c.refused != "" && (strings.Count(logs, "E! ") != 2 || strings.Count(logs, c.refused) != 2 ||
				!strings.Contains(logs, "E! [outputs.redis] metric mem at 2026-11-24T20:26:45Z not written") ||
				!strings.Contains(logs, "E! [outputs.redis] metric disk at 2026-11-24T20:26:47Z not written")) {
				t.Fatalf("want an E! line with %q for mem and for disk:\n%s", c.refused, logs)
			}
			if c.refused == "" && strings.Contains(logs, "E! ") {
				t.Fatalf("errors:\n%s", logs)
			}

			tg := startTelegraf(t, "key = 'builtin:"+c.name+":{{.Tag \"host\"}}'\n"+options, lines)
			check("builtin:"+c.name+":", tg.Output)
			if c.refused != "" && !strings.Contains(tg.Output(), c.refused) {
				t.Fatalf("want %q:\n%s", c.refused, tg.Output())
			}
		})
	}
}

// waitForBatches waits until the values of key hold every metric of ms.
func waitForBatches(t *testing.T, srv *redistest.Server, key string, s telegraf.Serializer, ms []telegraf.Metric, logs func() string) []string {
	t.Helper()
	all, err := s.SerializeBatch(ms)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		values, err := redis.Strings(srv.Conn().Do("LRANGE", key, 0, -1))
		size := 0
		for _, v := range values {
			size += len(v)
		}
		// Batches of a run of metrics are at least as long as one batch
		// of them all, but for a shared header (prometheus's HELP lines).
		if err == nil && len(values) > 0 && (size >= len(all) || len(values) == len(ms)) {
			return values
		}
		if time.Now().After(deadline) {
			t.Fatalf("values of %s: %q; log:\n%s", key, values, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
