package redis

import (
	"io"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

const benchLine = `{"fields":{"usage_guest":0,"usage_guest_nice":0,"usage_idle":97.5,"usage_iowait":0.125,"usage_irq":0,"usage_nice":0,` +
	`"usage_softirq":0.0625,"usage_steal":0,"usage_system":1.0625,"usage_user":1.25},"name":"cpu","tags":{"cpu":"cpu-total","dc":"eu-west-1",` +
	`"env":"production","host":"host-01","rack":"r12"},"timestamp":1795552004}`

// benchMode decodes a system metric and builds its commands: the work per
// metric of a per-metric mode before the network.
func benchMode(b *testing.B, tune func(*Redis)) {
	r := New()
	r.Log = logger.NewWriter(io.Discard, "")
	tune(r)
	if err := r.Init(); err != nil {
		b.Fatal(err)
	}
	batch := r.newMode().NewBatch()
	line := []byte(benchLine)
	var addErr error
	add := func(m *metricline.Metric) { addErr = batch.Add(m) }
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.decoder.Decode(line, add); err != nil || addErr != nil {
			b.Fatal(err, addErr)
		}
		if batch.Metrics() == 5000 {
			batch.Reset()
		}
	}
}

func BenchmarkHash(b *testing.B) {
	benchMode(b, func(r *Redis) { r.Mode, r.Key = "hash", `telegraf:{{.Name}}:{{.Tag "host"}}` })
}

func BenchmarkStreamFields(b *testing.B) { benchMode(b, func(r *Redis) { r.Mode = "stream" }) }

// Telegraf's own serializers, as publish, list, string and stream payloads
// use them.
func BenchmarkSerializeInflux(b *testing.B) {
	benchMode(b, func(r *Redis) { r.Mode, r.DataFormat = "publish", "influx" })
}

func BenchmarkSerializeJSON(b *testing.B) {
	benchMode(b, func(r *Redis) { r.Mode, r.DataFormat = "publish", "json" })
}

// The flat layout of earlier versions, beside the typed one above.
func BenchmarkStreamFlat(b *testing.B) {
	benchMode(b, func(r *Redis) { r.Mode, r.Layout, r.IncludeTags = "stream", "flat", true })
}
