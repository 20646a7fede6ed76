// Package decodetest collects what a metricline.Decoder gives for a line,
// as plain maps that tests can compare with Telegraf's own parsers.
package decodetest

import (
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Metric is one decoded metric, copied out of the decoder's buffers.
type Metric struct {
	Name   string
	Tags   map[string]string
	Fields map[string]interface{}
	Time   int64
}

// Collect decodes line with d and returns a copy of every metric it gave.
func Collect(t testing.TB, d metricline.Decoder, line string) ([]Metric, error) {
	t.Helper()
	var out []Metric
	err := d.Decode([]byte(line), func(m *metricline.Metric) {
		c := Metric{Name: string(m.Name), Tags: make(map[string]string), Fields: make(map[string]interface{}), Time: m.Time}
		for _, tg := range m.Tags {
			c.Tags[string(tg.Key)] = string(tg.Value)
		}
		for i := range m.Fields {
			c.Fields[string(m.Fields[i].Key)] = m.Fields[i].Value()
		}
		out = append(out, c)
	})
	return out, err
}

// Bench decodes line b.N times with d, checking that each gives perLine
// metrics, and reports bytes and allocations.
func Bench(b *testing.B, d metricline.Decoder, line string, perLine int) {
	buf := []byte(line)
	n := 0
	count := func(*metricline.Metric) { n++ }
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.Decode(buf, count); err != nil {
			b.Fatal(err)
		}
	}
	if n != b.N*perLine {
		b.Fatalf("%d metrics", n)
	}
}
