package metricjson

import (
	"strings"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/decodetest"
)

const benchLine = `{"fields":{"usage_guest":0,"usage_guest_nice":0,"usage_idle":97.5,"usage_iowait":0.125,"usage_irq":0,"usage_nice":0,"usage_softi` +
	`rq":0.0625,"usage_steal":0,"usage_system":1.0625,"usage_user":1.25},"name":"cpu","tags":{"cpu":"cpu-total","dc":"eu-west-1","env":"production","ho` +
	`st":"host-01","rack":"r12"},"timestamp":1795552004}`

// A system metric (5 tags, 10 fields) as one JSON line.
func BenchmarkJSONLine(b *testing.B) {
	d := NewJSON(0, "")
	d.FloatNumbers = true
	decodetest.Bench(b, d, benchLine, 1)
}

// The same metric, 1000 per batch line (use_batch_format).
func BenchmarkJSONBatch(b *testing.B) {
	d := NewJSON(0, "")
	d.FloatNumbers = true
	decodetest.Bench(b, d, `{"metrics":[`+strings.Repeat(benchLine+",", 999)+benchLine+`]}`, 1000)
}

// The same metric with numbers left as text, as redis-output decodes it.
func BenchmarkJSONLineLazy(b *testing.B) {
	d := NewJSON(0, "")
	d.LazyNumbers = true
	decodetest.Bench(b, d, benchLine, 1)
}
