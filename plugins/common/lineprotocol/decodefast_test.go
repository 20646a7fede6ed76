package lineprotocol

import (
	"strings"
	"testing"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// fastEdges are lines at the border of the fast path's subset: each is
// read by the fast path or handed to the machine, and either way must give
// what the machine alone gives (and what Telegraf's parser gives).
var fastEdges = []string{
	`cpu,cpu=cpu-total,host=h1 usage_idle=97.5,n=3i,u=4u,b=true 1795552004000000000`,
	`m x=1`, `m x=-1`, `m x=-0`, `m x=0.5`, `m x=00.5`, `m x=1.`, `m x=.5`, `m x=-.5`, `m x=1e3`, `m x=1E-3`, `m x=1.5e+300`, `m x=-2.5e-7,y=1`,
	`m x=1e400`, `m x=1e-400`, `m x=1e`, `m x=1e+`, `m x=1.e5`, `m x=1e5i`, `m x=1e5.5`, `m x=1ee5`, `m x=1e-5 1`,
	`m x=0i`, `m x=-0i`, `m x=007i`, `m x=-9223372036854775808i`, `m x=-9223372036854775809i`, `m x=9223372036854775807i`, `m x=9223372036854775808i`,
	`m x=0u`, `m x=01u`, `m x=-1u`, `m x=18446744073709551615u`, `m x=18446744073709551616u`,
	`m x=1i2`, `m x=1ii`, `m x=1.5i`, `m x=1u,y=2`, `m x=1,`, `m x=1,,y=2`, `m x=`, `m =1`, `m x`,
	`m x=t`, `m x=T`, `m x=true`, `m x=True`, `m x=TRUE`, `m x=tRUE`, `m x=tru`, `m x=truex`, `m x=f,y=F,z=false,w=False,v=FALSE`,
	`m x=` + strings.Repeat("9", 400), `m x=` + strings.Repeat("9", 308) + `.5`, `m x=0.` + strings.Repeat("0", 400) + `1`,
	`m x=1 0`, `m x=1 -0`, `m x=1 -1`, `m x=1 9223372036854775807`, `m x=1 9223372036854775808`, `m x=1 1234567890123456789`,
	`m x=1 12345678901234567890`, `m x=1 0000000000000000001`, `m x=1 00000000000000000001`, `m x=1 -00000000000000000001`,
	`m x=1 1795552004000000000 `, `m x=1  1795552004000000000`, `m x=1 +1`, `m x=1 1x`, `m x=1 `, ` m x=1`, `m  x=1`, "m\tx=1", "m x=1\t1",
	`m,a=b,a=c x=1,x=2i`, `m,b=1,a=2 y=1,x=2`, `m,a= x=1`, `m,=b x=1`, `m,a x=1`, `m, x=1`, `m,a=b`, `m,a=b=c x=1`,
	`#m x=1`, `m# x=1`, `m,a=#b x=1`, `m=1 x=1`, `"m" x=1`, `m,a="b" x=1`, `m x="s"`, `m\ n x=1`, `m,a=b\ c x=1`,
	"m x=1\n", "m x=1\nm x=2", "m x=1\r", "m\x00 x=1", "m x=1\x7f", "m\xc3\xa9 x=1", "\xff,\xfe=\x80 \xc3\xa9=1i 1", "m,city=Z\xc3\xbcrich temp=21.5",
	"m,a=\xe2\x80\xa8 x=1", "",
}

// TestInfluxFastPathAsMachine: every edge line gives the same metrics and
// the same error with the fast path as with the machine alone, and as
// Telegraf's parser; and the common lines do take the fast path.
func TestInfluxFastPathAsMachine(t *testing.T) {
	for _, precision := range []time.Duration{0, time.Second} {
		fast, slow := newTestInflux(t, precision), newTestInflux(t, precision)
		slow.machineOnly = true
		for _, line := range fastEdges {
			sameAsMachine(t, fast, slow, []byte(line))
			sameAsTelegraf(t, fast, precision, []byte(line))
		}
	}
	h := &newTestInflux(t, 0).h
	for _, line := range []string{
		`cpu,cpu=cpu-total,dc=eu-west-1,env=production,host=host-01,rack=r12 usage_guest=1.5,usage_guest_nice=0,usage_idle=97.5,usage_iowait=0.1 ` +
			`1795552004000000000`,
		`kafka_consumer fields_bitcoin_usd=97234.12,fields_ethereum_usd=3391.45 1795552004`,
		`m n=-3i,u=4u,b=false,x=-0.25,y=3.4567e-06`,
		"weather,city=Z\xc3\xbcrich temp=21.5 1795552004000000000",
	} {
		if !h.fast([]byte(line)) {
			t.Errorf("%s: not read by the fast path", line)
		}
	}
}

// sameAsMachine decodes line with the fast path and with the machine alone.
func sameAsMachine(t *testing.T, fast, slow *Influx, line []byte) {
	t.Helper()
	var got, want []string
	gerr := fast.Decode(line, func(m *metricline.Metric) { got = append(got, describe(m)) })
	werr := slow.Decode(line, func(m *metricline.Metric) { want = append(want, describe(m)) })
	if strings.Join(got, "\n") != strings.Join(want, "\n") || errText(gerr) != errText(werr) {
		t.Fatalf("%q: fast path %q %v, machine %q %v", line, got, gerr, want, werr)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzInfluxFastPath: the fast path and the machine read every line alike.
func FuzzInfluxFastPath(f *testing.F) {
	for _, s := range fastEdges {
		f.Add(s, false)
	}
	for _, s := range influxSeeds {
		f.Add(s, true)
	}
	fast, slow := newTestInflux(f, 0), newTestInflux(f, 0)
	slow.machineOnly = true
	lazyFast, lazySlow := newTestInflux(f, 0), newTestInflux(f, 0)
	lazyFast.LazyNumbers, lazySlow.LazyNumbers, lazySlow.machineOnly = true, true, true
	f.Fuzz(func(t *testing.T, line string, lazy bool) {
		if lazy {
			sameAsMachine(t, lazyFast, lazySlow, []byte(line))
		} else {
			sameAsMachine(t, fast, slow, []byte(line))
		}
	})
}
