package redis_consumer

import (
	"io"
	"testing"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
)

// A system metric as redis-output writes it, in both layouts: the work per
// entry of stream mode between the reply and the serializer.
var (
	typedPairs = []string{"_measurement", "cpu", "_time", "1795552004000000000", "#cpu", "cpu-total", "#dc", "eu-west-1",
		"#env", "production", "#host", "host-01", "#rack", "r12", "usage_guest", "0", "usage_guest_nice", "0",
		"usage_idle", "97.5", "usage_iowait", "0.125", "usage_irq", "0", "usage_nice", "0", "usage_softirq", "0.0625",
		"usage_steal", "0", "usage_system", "1.0625", "usage_user", "1.25"}
	flatPairs = append([]string{"cpu", "cpu-total", "dc", "eu-west-1", "env", "production", "host", "host-01", "rack", "r12"},
		typedPairs[14:]...)
)

func benchPairs(b *testing.B, kv []string, tagKeys []string) {
	p := New()
	p.Mode, p.Key, p.TagKeys = "stream", "s", tagKeys
	p.Log = logger.NewWriter(io.Discard, "")
	if err := p.Init(); err != nil {
		b.Fatal(err)
	}
	pairs := make([][]byte, len(kv))
	for i, s := range kv {
		pairs[i] = []byte(s)
	}
	out := newOutput(io.Discard)
	var buf []byte
	t := time.Unix(1795552004, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := p.pairsMetric(pairs, nil, t)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = out.serialize(buf[:0], []telegraf.Metric{m}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPairsTyped(b *testing.B) { benchPairs(b, typedPairs, nil) }

func BenchmarkPairsFlat(b *testing.B) {
	benchPairs(b, flatPairs, []string{"cpu", "dc", "env", "host", "rack"})
}
