package metricline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricjson"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

func TestDetectReadsEachLineInItsFormat(t *testing.T) {
	in, err := lineprotocol.NewInflux(0)
	if err != nil {
		t.Fatal(err)
	}
	d := &metricline.Detect{JSON: metricjson.NewJSON(time.Second, ""), Influx: in}
	for line, want := range map[string]string{
		`{"fields":{"x":1.5},"name":"m","tags":{},"timestamp":1795552004}`:                      "m 0 tags 1 fields @1795552004000000000",
		`  {"metrics":[{"fields":{"x":1},"name":"m","tags":{"a":"b"},"timestamp":1795552004}]}`: "m 1 tags 1 fields @1795552004000000000",
		`m,a=b x=1.5 1795552004000000000`:                                                       "m 1 tags 1 fields @1795552004000000000",
	} {
		var got []string
		if err := d.Decode([]byte(line), func(m *metricline.Metric) { got = append(got, m.String()) }); err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("%s: %q %v, want %q", line, got, err, want)
		}
	}
}

// Hostile: a line of neither format is refused by the decoder its first
// byte chose, with that decoder's message; nothing is decoded from it.
func TestDetectHostile(t *testing.T) {
	in, err := lineprotocol.NewInflux(0)
	if err != nil {
		t.Fatal(err)
	}
	d := &metricline.Detect{JSON: metricjson.NewJSON(time.Second, ""), Influx: in}
	for line, want := range map[string]string{
		`{"fields":{"x":1.5},"name":"m"`: "JSON",
		`{m x`:                           "JSON",
		`not line protocol`:              "",
		``:                               "",
	} {
		n := 0
		err := d.Decode([]byte(line), func(*metricline.Metric) { n++ })
		if n != 0 || (line != "" && err == nil) || (want != "" && !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %d metrics, error %v", line, n, err)
		}
	}
}

// A line protocol measurement may begin with '{': such a line is not
// taken for bad JSON.
func TestDetectBraceMeasurement(t *testing.T) {
	in, err := lineprotocol.NewInflux(0)
	if err != nil {
		t.Fatal(err)
	}
	d := &metricline.Detect{JSON: metricjson.NewJSON(time.Second, ""), Influx: in}
	for _, line := range []string{`{m x=1 1`, `{"m x=1i 1`, `{.m,\=0\=#={0*}a 0%}cpu#=6u 1`} {
		var names []string
		if err := d.Decode([]byte(line), func(m *metricline.Metric) { names = append(names, string(m.Name)) }); err != nil || len(names) != 1 {
			t.Errorf("%q: %v, metrics %q", line, err, names)
		}
	}
}

// Detecting the format costs no allocation: not for a JSON line, a batch
// line, nor a line protocol line. (A '{' line that is line protocol after
// all, rare, allocates the JSON decoder's error that is then dropped.)
func TestDetectDoesNotAllocate(t *testing.T) {
	in, err := lineprotocol.NewInflux(0)
	if err != nil {
		t.Fatal(err)
	}
	d := &metricline.Detect{JSON: metricjson.NewJSON(time.Second, ""), Influx: in}
	n := 0
	count := func(*metricline.Metric) { n++ }
	for _, line := range []string{
		`{"fields":{"x":1.5,"y":"text"},"name":"m","tags":{"a":"b"},"timestamp":1795552004}`,
		`{"metrics":[{"fields":{"x":1},"name":"m","tags":{},"timestamp":1795552004},{"fields":{"x":2},"name":"m","tags":{},"timestamp":1795552005}]}`,
		`m,a=b x=1.5,y="text" 1795552004000000000`,
	} {
		b := []byte(line)
		if err := d.Decode(b, count); err != nil { // warm up the decoders' buffers
			t.Fatalf("%s: %v", line, err)
		}
		var derr error
		if a := testing.AllocsPerRun(100, func() { derr = d.Decode(b, count) }); a != 0 || derr != nil {
			t.Errorf("%s: %.1f allocations a line, want none (%v)", line, a, derr)
		}
	}
	if n != 4*102 { // a decode to warm up and AllocsPerRun's 101 runs, a metric a line (two in the batch)
		t.Fatalf("%d metrics", n)
	}
}
