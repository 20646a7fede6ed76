package lineprotocol

import (
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/decodetest"
)

const benchLP = `cpu,cpu=cpu-total,dc=eu-west-1,env=production,host=host-01,rack=r12 usage_guest=0,usage_guest_nice=0,usage_idle=97.5,usage_iowait=` +
	`0.125,usage_irq=0,usage_nice=0,usage_softirq=0.0625,usage_steal=0,usage_system=1.0625,usage_user=1.25 1795552004000000000`

// Line protocol (lineprotocol.Influx).
func BenchmarkInfluxLine(b *testing.B) {
	d, err := NewInflux(0)
	if err != nil {
		b.Fatal(err)
	}
	decodetest.Bench(b, d, benchLP, 1)
}

// The same line through Telegraf's state machine alone, without the fast
// path: what the fast path saves.
func BenchmarkInfluxLineMachine(b *testing.B) {
	d, err := NewInflux(0)
	if err != nil {
		b.Fatal(err)
	}
	d.machineOnly = true
	decodetest.Bench(b, d, benchLP, 1)
}

// Quote mode's line protocol input: numbers left as text.
func BenchmarkInfluxLineLazy(b *testing.B) {
	d, err := NewInflux(0)
	if err != nil {
		b.Fatal(err)
	}
	d.LazyNumbers = true
	decodetest.Bench(b, d, benchLP, 1)
}
