package metricline

import (
	"strings"
	"testing"
)

const benchLine = `{"fields":{"usage_guest":0,"usage_guest_nice":0,"usage_idle":97.5,"usage_iowait":0.125,"usage_irq":0,"usage_nice":0,"usage_softirq":0.0625,"usage_steal":0,"usage_system":1.0625,"usage_user":1.25},"name":"cpu","tags":{"cpu":"cpu-total","dc":"eu-west-1","env":"production","host":"host-01","rack":"r12"},"timestamp":1795552004}`

const benchLP = `cpu,cpu=cpu-total,dc=eu-west-1,env=production,host=host-01,rack=r12 usage_guest=0,usage_guest_nice=0,usage_idle=97.5,usage_iowait=0.125,usage_irq=0,usage_nice=0,usage_softirq=0.0625,usage_steal=0,usage_system=1.0625,usage_user=1.25 1795552004000000000`

func benchDecode(b *testing.B, d Decoder, line string, perLine int) {
	buf := []byte(line)
	n := 0
	count := func(*Metric) { n++ }
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

// A system metric (5 tags, 10 fields) as one JSON line.
func BenchmarkJSONLine(b *testing.B) {
	d := NewJSON(0, "")
	d.FloatNumbers = true
	benchDecode(b, d, benchLine, 1)
}

// The same metric, 1000 per batch line (use_batch_format).
func BenchmarkJSONBatch(b *testing.B) {
	d := NewJSON(0, "")
	d.FloatNumbers = true
	benchDecode(b, d, `{"metrics":[`+strings.Repeat(benchLine+",", 999)+benchLine+`]}`, 1000)
}

// Line protocol (metricline.Influx).
func BenchmarkInfluxLine(b *testing.B) {
	d, err := NewInflux(0)
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, d, benchLP, 1)
}

// The same line through Telegraf's state machine alone, without the fast
// path: what the fast path saves.
func BenchmarkInfluxLineMachine(b *testing.B) {
	d, err := NewInflux(0)
	if err != nil {
		b.Fatal(err)
	}
	d.machineOnly = true
	benchDecode(b, d, benchLP, 1)
}

// Quote mode's line protocol input: numbers left as text.
func BenchmarkInfluxLineLazy(b *testing.B) {
	d, err := NewInflux(0)
	if err != nil {
		b.Fatal(err)
	}
	d.LazyNumbers = true
	benchDecode(b, d, benchLP, 1)
}

// The same metric with numbers left as text, as redis-output decodes it.
func BenchmarkJSONLineLazy(b *testing.B) {
	d := NewJSON(0, "")
	d.LazyNumbers = true
	benchDecode(b, d, benchLine, 1)
}
