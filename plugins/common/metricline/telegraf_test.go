package metricline

import (
	"math"
	"testing"
	"time"

	"github.com/influxdata/telegraf/metric"
)

func TestFromTelegraf(t *testing.T) {
	tm := metric.New("cpu", map[string]string{"host": "web-01", "dc": "eu"},
		map[string]any{"f": 1.5, "i": int64(-3), "u": uint64(math.MaxUint64), "s": "x y", "b": true},
		time.Unix(1795552004, 123))
	var m Metric
	m.Fields = append(m.Fields, Field{Key: []byte("stale")}) // reused: reset first
	FromTelegraf(tm, &m)
	if string(m.Name) != "cpu" || m.Time != 1795552004000000123 || len(m.Tags) != 2 || len(m.Fields) != 5 {
		t.Fatalf("%s", m.String())
	}
	got := map[string]string{}
	for i := range m.Fields {
		got[string(m.Fields[i].Key)] = m.Fields[i].Text()
	}
	want := map[string]string{"f": "1.5", "i": "-3", "u": "18446744073709551615", "s": `"x y"`, "b": "true"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %s = %s, want %s", k, got[k], v)
		}
	}
	if m.ToTelegraf() != tm {
		t.Error("ToTelegraf copied the metric Telegraf gave")
	}
	// Hostile: the copy does not change when Telegraf's metric does, and
	// appending to one slice cannot overwrite its neighbour.
	tm.AddTag("host", "changed")
	tm.SetName("mem")
	_ = append(m.Tags[0].Key, "!!!!"...)
	if string(m.Name) != "cpu" || string(m.Tags[0].Key) != "dc" || string(m.Tags[0].Value) != "eu" || string(m.Tags[1].Value) != "web-01" {
		t.Fatalf("the copy changed: %s %s=%s %s=%s", m.Name, m.Tags[0].Key, m.Tags[0].Value, m.Tags[1].Key, m.Tags[1].Value)
	}
}
