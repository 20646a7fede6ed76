package redis_consumer

import (
	"bytes"
	"io"
	"log"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	serializer "github.com/influxdata/telegraf/plugins/serializers/influx"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/metricgen"
)

// telegrafLines is what Telegraf's influx serializer (sorted fields, uint
// support) writes for ms; ok is false when it refuses one.
func telegrafLines(t testing.TB, ms []telegraf.Metric) ([]byte, bool) {
	s := &serializer.Serializer{SortFields: true, UintSupport: true}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, m := range ms {
		b, err := s.Serialize(m)
		if err != nil {
			return nil, false
		}
		out = append(out, b...)
	}
	return out, true
}

// Our output writes every telegraf.Metric as Telegraf's serializer does.
func FuzzOutputVsTelegraf(f *testing.F) {
	log.SetOutput(io.Discard) // Telegraf's serializer logs each field it leaves out
	f.Add([]byte("\x06cpu\x02\x04ho\x04h1\x05\x02ab\x00\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Add([]byte{9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24})
	o := newOutput(io.Discard)
	f.Fuzz(func(t *testing.T, data []byte) {
		tm := metricgen.Metric(data).ToTelegraf()
		want, ok := telegrafLines(t, []telegraf.Metric{tm})
		got, err := o.serialize([]byte("x"), []telegraf.Metric{tm})
		switch {
		case !ok && err == nil:
			t.Fatalf("Telegraf refuses %v, we wrote %q", tm, got)
		case ok && err != nil:
			t.Fatalf("%v: Telegraf writes %q, we refuse: %v", tm, want, err)
		case !ok && string(got) != "x":
			t.Fatalf("refused, but %q left in the buffer", got)
		case ok && !bytes.Equal(got[1:], want):
			t.Fatalf("%v:\n got %q\nwant %q", tm, got[1:], want)
		}
	})
}

// A line protocol payload comes out as Telegraf's parser and serializer
// would write it, or is refused when they refuse it (or give no metric).
func FuzzStreamPayloadVsTelegraf(f *testing.F) {
	log.SetOutput(io.Discard)
	for _, s := range []string{
		`cpu,host=a,cpu=total usage_idle=97.5,n=3i,u=4u,s="x\"y",b=true 1795552004000000000`,
		`cpu usage=1`,
		"m f=1 1\nn g=2\n# c\n",
		`m,t=a\ b f=1e300,g=-0,h=1.50`,
		`cpu usage=`,
		"",
		"# nothing",
	} {
		f.Add(s, false)
	}
	f.Add(`m f=1 1795552004`, true)
	def := time.Unix(1795552004, 987654321)
	rewriters := map[bool]*lineRewriter{}
	for _, sec := range []bool{false, true} {
		precision := time.Duration(0)
		if sec {
			precision = time.Second
		}
		lr, err := newLineRewriter(precision)
		if err != nil {
			f.Fatal(err)
		}
		rewriters[sec] = lr
	}
	f.Fuzz(func(t *testing.T, payload string, seconds bool) {
		p := &influx.Parser{}
		if seconds {
			p.InfluxTimestampPrecision = 1e9
		}
		if err := p.Init(); err != nil {
			t.Fatal(err)
		}
		p.SetTimeFunc(func() time.Time { return def })
		ms, perr, panicked := parseNoPanic(p, []byte(payload))
		want, ok := telegrafLines(t, ms)
		ok = ok && perr == nil && !panicked && len(ms) > 0
		got, err := rewriters[seconds].rewrite([]byte("x"), []byte(payload), def)
		switch {
		case !ok && err == nil:
			t.Fatalf("%q: Telegraf refuses it (%v), we wrote %q", payload, perr, got)
		case ok && err != nil:
			t.Fatalf("%q: Telegraf writes %q, we refuse: %v", payload, want, err)
		case !ok && string(got) != "x":
			t.Fatalf("%q: refused, but %q left in the buffer", payload, got)
		case ok && !bytes.Equal(got[1:], want):
			t.Fatalf("%q:\n got %q\nwant %q", payload, got[1:], want)
		}
	})
}

// parseNoPanic: Telegraf's parser panics on a few malformed lines (`0\`).
func parseNoPanic(p *influx.Parser, b []byte) (ms []telegraf.Metric, err error, panicked bool) {
	defer func() {
		if recover() != nil {
			ms, err, panicked = nil, nil, true
		}
	}()
	ms, err = p.Parse(b)
	return ms, err, false
}
