package metricjson

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/serializers/json"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/metricgen"
)

// options our plugins pass: json_timestamp_units and json_timestamp_format.
var options = []struct {
	units  time.Duration
	format string
}{
	{0, ""},
	{time.Second, ""},
	{time.Millisecond, ""},
	{time.Nanosecond, ""},
	{5 * time.Millisecond, ""}, // Telegraf rounds down to a power of ten
	{0, time.RFC3339Nano},
	{0, "2006-01-02 15:04:05.000 <MST> \"\\ &"},
}

type pair struct {
	ours   *Encoder
	theirs *json.Serializer
}

func pairs(t testing.TB) []pair {
	ps := make([]pair, 0, len(options))
	for _, o := range options {
		s := &json.Serializer{TimestampUnits: config.Duration(o.units), TimestampFormat: o.format}
		if err := s.Init(); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, pair{New(o.units, o.format), s})
	}
	return ps
}

func checkSame(t *testing.T, ps []pair, m *metricline.Metric) {
	t.Helper()
	for _, p := range ps {
		out, err := p.theirs.Serialize(m.ToTelegraf())
		if err != nil {
			t.Fatalf("Telegraf refuses %v: %v", m, err)
		}
		want := strings.TrimSuffix(string(out), "\n")
		prefix := []byte("prefix")
		got := p.ours.AppendMetric(prefix, m)
		if !bytes.HasPrefix(got, prefix) {
			t.Fatalf("dst prefix overwritten: %q", got)
		}
		if string(got[len(prefix):]) != want {
			t.Fatalf("metric %+v (units %d, format %q)\n got %s\nwant %s", m, p.ours.units, p.ours.format, got[len(prefix):], want)
		}
	}
}

func TestEncodeLikeTelegraf(t *testing.T) {
	ps := pairs(t)
	d := NewJSON(0, "")
	for _, line := range []string{
		`{"fields":{"usage_idle":97.5,"n":3,"big":1e21,"small":1e-7,"neg":-0.0,"s":"<a href=\"x\">&amp;</a>\u2028\u0001","b":true},"name":"cpu","tags":{"` +
			`host":"h1","cpu":"total"},"timestamp":1795552004}`,
		`{"fields":{"a":1,"b":2.5,"e":1e308},"name":"odd\nname","tags":{"t":"1","s":"2"},"timestamp":-1795552004}`,
		`{"fields":{},"name":"x","tags":{},"timestamp":0}`,
	} {
		for _, float := range []bool{false, true} {
			for _, lazy := range []bool{false, true} {
				d.FloatNumbers, d.LazyNumbers = float, lazy
				if err := d.Decode([]byte(line), func(m *metricline.Metric) { checkSame(t, ps, m) }); err != nil {
					t.Fatalf("%s: %v", line, err)
				}
			}
		}
	}
	checkSame(t, ps, &metricline.Metric{Name: []byte("bad\xff\xfeutf8"), Tags: []metricline.Tag{{Key: []byte("\xc3"), Value: []byte("\xe2\x80\xa9")}}})
}

// Hostile: one encoder reused across metrics of every shape and every
// time; nothing of one leaks into the next.
func TestEncodeReuse(t *testing.T) {
	ps := pairs(t)
	for i := 0; i < 2000; i++ {
		data := []byte(strings.Repeat(string(rune('a'+i%26)), i%97) + string(rune(i)))
		checkSame(t, ps, metricgen.Metric(data))
	}
}

// FuzzEncodeVsTelegraf: for every metric and every option we pass, the
// same bytes as Telegraf's json serializer.
func FuzzEncodeVsTelegraf(f *testing.F) {
	f.Add([]byte("\x06cpu\x02\x04ho\x04h1\x05\x02ab\x00\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Add([]byte{9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24})
	f.Add([]byte("\x08\xff\xfe\xfd\xfc\x03\x05a\\\x03b\\\\\x07\x07x\x01\xf0\x7f\x00\x00\x00\x00\x00\x00"))
	ps := pairs(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSame(t, ps, metricgen.Metric(data))
	})
}

func BenchmarkAppendMetric(b *testing.B) {
	d := NewJSON(0, "")
	d.FloatNumbers = true
	line := []byte(`{"fields":{"usage_guest":0,"usage_guest_nice":0,"usage_idle":97.5,"usage_iowait":0.125,"usage_irq":0,"usage_nice":0,"usage_softirq` +
		`":0.0625,"usage_steal":0,"usage_system":1.0625,"usage_user":1.25},"name":"cpu","tags":{"cpu":"cpu-total","dc":"eu-west-1","env":"production","hos` +
		`t":"host-01","rack":"r12"},"timestamp":1795552004}`)
	var m metricline.Metric
	if err := d.Decode(line, func(got *metricline.Metric) { m = *got }); err != nil {
		b.Fatal(err)
	}
	e := New(time.Second, "")
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = e.AppendMetric(buf[:0], &m)
	}
}
