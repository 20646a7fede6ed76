package metricjson

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/decodetest"
)

// decodetest.Metric is a copy of a Metric that outlives the callback.
func TestJSONSingleAndBatch(t *testing.T) {
	d := NewJSON(time.Second, "")
	line := `{"fields":{"fields_bitcoin_usd":97234.12,"n":-3,"big":18446744073709551615,"s":"x\"y\u00e9\ud83d\ude00","b":true,"f":false},"name":"kafka` +
		`_consumer","tags":{"topic_currency_rate":"currency.rate"},"timestamp":1795552004}`
	got, err := decodetest.Collect(t, d, line)
	if err != nil {
		t.Fatal(err)
	}
	want := []decodetest.Metric{{
		Name: "kafka_consumer",
		Tags: map[string]string{"topic_currency_rate": "currency.rate"},
		Fields: map[string]interface{}{
			"fields_bitcoin_usd": 97234.12, "n": int64(-3), "big": uint64(math.MaxUint64),
			"s": "x\"y\u00e9\U0001F600", "b": true, "f": false,
		},
		Time: 1795552004 * int64(time.Second),
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}

	batch := `{"metrics":[` + line + `, ` + strings.Replace(line, "1795552004", "1795552005", 1) + `]}`
	got, err = decodetest.Collect(t, d, batch)
	if err != nil || len(got) != 2 || got[1].Time != 1795552005*int64(time.Second) {
		t.Fatalf("batch: %v %+v", err, got)
	}
	if got, err := decodetest.Collect(t, d, `{"metrics":[]}`); err != nil || len(got) != 0 {
		t.Fatalf("empty batch: %v %v", got, err)
	}
}

func TestJSONTimestampUnits(t *testing.T) {
	line := `{"fields":{"a":1},"name":"m","tags":{},"timestamp":1795552004123}`
	got, err := decodetest.Collect(t, NewJSON(time.Millisecond, ""), line)
	if err != nil || got[0].Time != 1795552004123*int64(time.Millisecond) {
		t.Fatalf("%v %+v", err, got)
	}
	// Telegraf rounds units down to a power of ten: 5ms counts as 1ms.
	if d := NewJSON(5*time.Millisecond, ""); d.TimestampUnits != time.Millisecond {
		t.Fatalf("units %v", d.TimestampUnits)
	}
	got, err = decodetest.Collect(t, NewJSON(0, time.RFC3339), `{"fields":{"a":1},"name":"m","timestamp":"2026-11-25T10:00:00Z"}`)
	if err != nil || got[0].Time != time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano() {
		t.Fatalf("%v %+v", err, got)
	}
}

func TestJSONBadLines(t *testing.T) {
	cases := map[string]string{
		`{"metrics":5}`: `"metrics" must be an array`,
		`{"fields":{"fields_bitcoin_usd":1.0},"name":"kafka_consumer"`: "line ends",
		`{}`: "empty object",
		`{"fields":null,"name":"x","tags":{},"timestamp":1}`: `"fields" is null`,
		`not json at all`:                        "want a JSON object",
		`[]`:                                     "want a JSON object",
		"\xff\xfe garbage ":                      "want a JSON object",
		strings.Repeat("{", 300):                 "want a quoted key",
		`{"a":` + strings.Repeat("[", 300) + `}`: "nested deeper than 64",
		`{"fields":{"x":1e400},"name":"x","tags":{},"timestamp":1}`:        `field "x": number 1e400 is out of the float64 range`,
		`{"fields":{"x":{"y":1}},"name":"x","tags":{},"timestamp":1}`:      `field "x": value {"y":1} is not a number`,
		`{"fields":{"x":null},"name":"x","tags":{},"timestamp":1}`:         "is not a number, string or boolean",
		`{"fields":{"x":1,"x":2},"name":"x","tags":{},"timestamp":1}`:      `duplicate field "x"`,
		`{"fields":{"x":1},"name":"x","name":"y","tags":{},"timestamp":1}`: `duplicate key "name"`,
		// Keys in order until the repeat, and out of order before it.
		`{"fields":{"a":1,"b":2,"c":3,"b":4},"name":"x","timestamp":1}`:                `duplicate field "b"`,
		`{"fields":{"b":1,"a":2,"c":3,"b":4},"name":"x","timestamp":1}`:                `duplicate field "b"`,
		`{"fields":{"a":1,"b":2,"b":3},"name":"x","timestamp":1}`:                      `duplicate field "b"`,
		`{"fields":{"x":1},"name":"x","tags":{"a":"1","b":"2","a":"3"},"timestamp":1}`: `duplicate tag "a"`,
		`{"fields":{"x":1},"name":"x","tags":{"b":"1","b":"2"},"timestamp":1}`:         `duplicate tag "b"`,
		`{"fields":{"x":1},"name":"x","tags":{"a":1},"timestamp":1}`:                   `tag "a" is not a string`,
		`{"fields":{"x":1},"name":"x","tags":{}}`:                                      `no "timestamp"`,
		`{"fields":{"x":1},"name":"","tags":{},"timestamp":1}`:                         `"name" is empty`,
		`{"fields":{"x":1},"name":"x","tags":{},"timestamp":99999999999999999}`:        "out of range",
		"{\"fields\":{\"x\":\"\xff\"},\"name\":\"x\",\"timestamp\":1}":                 "invalid UTF-8",
		`{"fields":{"x":01},"name":"x","tags":{},"timestamp":1}`:                       "invalid number",
		`{"fields":{"x":1},"name":"x","tags":{},"timestamp":1} trailing`:               "unexpected data after the metric",
		`{"metrics":[{"fields":{"a":1},"name":"m","timestamp":1}],"x":1}`:              `only the "metrics" key`,
		`{"fields":{"x":1},"metrics":[],"name":"x","timestamp":1}`:                     `"metrics" must be the only key`,
	}
	for line, want := range cases {
		got, err := decodetest.Collect(t, NewJSON(0, ""), line)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60q: error %v, want it to contain %q", line, err, want)
		}
		if len(got) != 0 && !strings.HasPrefix(line, `{"metrics"`) { // a batch keeps what came before the fault
			t.Errorf("%.60q: delivered %v", line, got)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%.60q: error spans lines", line)
		}
	}
}

func TestJSONBlankLine(t *testing.T) {
	for _, line := range []string{"", "   ", "\t"} {
		got, err := decodetest.Collect(t, NewJSON(0, ""), line)
		if err != nil || len(got) != 0 {
			t.Fatalf("%q: %v %v", line, got, err)
		}
	}
}

func TestJSONBadMetricInBatchKeepsTheOthers(t *testing.T) {
	good := `{"fields":{"a":1},"name":"m","tags":{},"timestamp":1}`
	bad := `{"fields":{"a":true,"b":1e999},"name":"m","tags":{},"timestamp":1}`
	got, err := decodetest.Collect(t, NewJSON(0, ""), `{"metrics":[`+good+`,`+bad+`,`+good+`,`+bad+`]}`)
	if len(got) != 2 {
		t.Fatalf("kept %d metrics, want 2", len(got))
	}
	if err == nil || !strings.Contains(err.Error(), "metric 2 of the batch") || !strings.Contains(err.Error(), "1 more bad metrics") {
		t.Fatalf("error %v", err)
	}
}

func TestJSONWideMetricDuplicates(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"fields":{`)
	for i := 0; i < 100; i++ {
		b.WriteString(`"f` + string(rune('A'+i%26)) + strings.Repeat("x", i/26) + `":1,`)
	}
	b.WriteString(`"fA":2},"name":"m","timestamp":1}`)
	_, err := decodetest.Collect(t, NewJSON(0, ""), b.String())
	if err == nil || !strings.Contains(err.Error(), `duplicate field "fA"`) {
		t.Fatalf("error %v", err)
	}
}

// TestJSONExamples reads every example stream and checks each accepted
// line against encoding/json.
func TestJSONExamples(t *testing.T) {
	files, err := filepath.Glob("../../../testdata/examples/*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example streams in testdata/examples")
	}
	d := NewJSON(0, "")
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		accepted, rejected := 0, 0
		for sc.Scan() {
			line := sc.Text()
			got, err := decodetest.Collect(t, d, line)
			if err != nil {
				rejected++
				continue
			}
			accepted++
			if want, ok := reference(line); ok && !equalDecoded(got, want) {
				t.Errorf("%s: %q\n got %+v\nwant %+v", name, line, got, want)
			}
		}
		f.Close()
		if accepted == 0 {
			t.Errorf("%s: no line accepted", name)
		}
		// Exactly the lines made bad on purpose; mixed.jsonl has 56: 8
		// "[]", 7 "not json at all", 7 {"metrics":5}, 7 "fields":null, 7
		// 1e400, 6 runs of "{", 6 cut short, 5 "{}", 3 UTF-16 garbage.
		want := map[string]int{"mixed.jsonl": 56}[filepath.Base(name)]
		if rejected != want {
			t.Errorf("%s: %d lines rejected, want %d", filepath.Base(name), rejected, want)
		}
		t.Logf("%s: %d accepted, %d rejected", filepath.Base(name), accepted, rejected)
	}
}

// reference decodes a line with encoding/json, as a second opinion. Keys
// are matched exactly (encoding/json's struct decoding would also take
// "tAgs" for "tags"; Telegraf writes lower case and so do we).
func reference(line string) ([]decodetest.Metric, bool) {
	var raw map[string]json.RawMessage
	if !strictUnmarshal([]byte(line), &raw) {
		return nil, false
	}
	if batch, ok := raw["metrics"]; ok {
		var ms []json.RawMessage
		if !strictUnmarshal(batch, &ms) {
			return nil, false
		}
		var out []decodetest.Metric
		for _, one := range ms {
			got, ok := reference(string(one))
			if !ok {
				return nil, false
			}
			out = append(out, got...)
		}
		return out, true
	}
	var fields map[string]interface{}
	var name string
	var tags map[string]string
	var ts json.Number
	if !strictUnmarshal(raw["fields"], &fields) || fields == nil || !strictUnmarshal(raw["name"], &name) || name == "" ||
		!strictUnmarshal(raw["timestamp"], &ts) {
		return nil, false
	}
	if t, ok := raw["tags"]; ok && !strictUnmarshal(t, &tags) {
		return nil, false
	}
	sec, err := ts.Int64()
	if err != nil || sec > math.MaxInt64/int64(time.Second) || sec < math.MinInt64/int64(time.Second) {
		return nil, false
	}
	c := decodetest.Metric{Name: name, Tags: map[string]string{}, Fields: map[string]interface{}{}, Time: sec * int64(time.Second)}
	for k, v := range tags {
		c.Tags[k] = v
	}
	for k, v := range fields {
		switch x := v.(type) {
		case json.Number:
			if i, err := x.Int64(); err == nil && !strings.ContainsAny(string(x), ".eE") {
				c.Fields[k] = i
			} else if f, err := x.Float64(); err == nil {
				c.Fields[k] = f
			} else {
				return nil, false
			}
		case string, bool:
			c.Fields[k] = x
		default:
			return nil, false
		}
	}
	return []decodetest.Metric{c}, true
}

func strictUnmarshal(data []byte, v interface{}) bool {
	if data == nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v) == nil
}

func equalDecoded(a, b []decodetest.Metric) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Time != b[i].Time || !reflect.DeepEqual(a[i].Tags, b[i].Tags) || len(a[i].Fields) != len(b[i].Fields) {
			return false
		}
		for k, v := range a[i].Fields {
			w := b[i].Fields[k]
			if u, ok := v.(uint64); ok { // encoding/json has no uint64 here
				if f, ok := w.(float64); ok && float64(u) == f {
					continue
				}
			}
			if !reflect.DeepEqual(v, w) {
				return false
			}
		}
	}
	return true
}

// FuzzJSON checks that no line panics the decoder, that every error is one
// line, and that whatever it accepts encoding/json reads the same way.
func FuzzJSON(f *testing.F) {
	files, err := filepath.Glob("../../../testdata/examples/*.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for i, line := range bytes.Split(data, []byte("\n")) {
			if i%7 == 0 {
				f.Add(string(line))
			}
		}
	}
	f.Add(`{"metrics":[{"fields":{"a":1},"name":"m","tags":{},"timestamp":1}]}`)
	f.Add(`{"fields":{"s":"\u00e9\ud83d\ude00\n"},"name":"m","tags":{"t":"v"},"timestamp":-5}`)
	f.Add(`{"fields":{"a":1e400},"name":"m","timestamp":1}`)
	d := NewJSON(0, "")
	lazy := NewJSON(0, "")
	lazy.FloatNumbers, lazy.LazyNumbers = true, true
	f.Fuzz(func(t *testing.T, line string) {
		// Lazy numbers: the same lines accepted, and every number, once
		// converted, the float the eager decoder gives and finite.
		lazyGot, lazyErr := decodetest.Collect(t, lazy, line)
		eager := NewJSON(0, "")
		eager.FloatNumbers = true
		eagerGot, eagerErr := decodetest.Collect(t, eager, line)
		if (lazyErr == nil) != (eagerErr == nil) || !equalDecoded(lazyGot, eagerGot) {
			t.Fatalf("%q: lazy %v %+v, eager %v %+v", line, lazyErr, lazyGot, eagerErr, eagerGot)
		}
		for _, m := range lazyGot {
			for _, v := range m.Fields {
				if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
					t.Fatalf("%q: non-finite %v", line, f)
				}
			}
		}

		got, err := decodetest.Collect(t, d, line)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if len(got) == 0 {
			return
		}
		if want, ok := reference(line); ok && !equalDecoded(got, want) {
			t.Fatalf("%q\n got %+v\nwant %+v", line, got, want)
		}
	})
}

// The decoder's promise that keys came in ascending order is what lets
// Canonical skip sorting: it must hold exactly when the keys were sorted,
// whatever order the previous line of the same decoder had.
func TestJSONSortedKeysPromise(t *testing.T) {
	d := NewJSON(0, "")
	var c metricline.Canonical
	for _, tc := range []struct {
		line       string
		tags, flds string
	}{
		{`{"fields":{"a":1,"b":2},"name":"x","tags":{"h":"1","k":"2"},"timestamp":1}`, "h,k", "a,b"},
		{`{"fields":{"b":1,"a":2},"name":"x","tags":{"k":"1","h":"2"},"timestamp":1}`, "h,k", "a,b"},
		{`{"fields":{"a":1,"c":2,"b":3},"name":"x","tags":{"h":"1"},"timestamp":1}`, "h", "a,b,c"},
		{`{"fields":{"ab":1,"a":2},"name":"x","timestamp":1}`, "", "a,ab"},
		{`{"fields":{"a":1,"ab":2},"name":"x","timestamp":1}`, "", "a,ab"},
	} {
		err := d.Decode([]byte(tc.line), func(m *metricline.Metric) {
			c.Of(m)
			var tags, flds []string
			for _, i := range c.Tags {
				tags = append(tags, string(m.Tags[i].Key))
			}
			for _, i := range c.Fields {
				flds = append(flds, string(m.Fields[i].Key))
			}
			if got := strings.Join(tags, ","); got != tc.tags {
				t.Errorf("%s: tags in order %s, want %s", tc.line, got, tc.tags)
			}
			if got := strings.Join(flds, ","); got != tc.flds {
				t.Errorf("%s: fields in order %s, want %s", tc.line, got, tc.flds)
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
	}
}

// FuzzJSONBatch puts fuzzed metrics into a batch line: a bad metric never
// costs the good ones around it.
func FuzzJSONBatch(f *testing.F) {
	f.Add(`{"fields":{"a":1},"name":"m","tags":{},"timestamp":1}`)
	f.Add(`{"fields":{"a":1e999},"name":"m","tags":{},"timestamp":1}`)
	f.Add(`{}`)
	good := `{"fields":{"g":1},"name":"good","tags":{},"timestamp":1}`
	d := NewJSON(0, "")
	f.Fuzz(func(t *testing.T, metric string) {
		got, err := decodetest.Collect(t, d, `{"metrics":[`+good+`,`+metric+`,`+good+`]}`)
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
		goods := 0
		for _, m := range got {
			if m.Name == "good" {
				goods++
			}
		}
		single, serr := decodetest.Collect(t, d, metric)
		if serr == nil && len(single) == 1 && !strings.Contains(metric, "metrics") && goods != 2 {
			t.Fatalf("a valid metric %q cost the batch its good metrics: %v", metric, err)
		}
		if goods == 0 {
			t.Fatalf("the first good metric was lost: %v", err)
		}
	})
}
