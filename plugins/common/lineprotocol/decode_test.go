package lineprotocol

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/decodetest"
)

func TestInflux(t *testing.T) {
	d, err := NewInflux(0)
	if err != nil {
		t.Fatal(err)
	}
	line := `kafka_consumer,topic_currency_rate=currency.rate fields_bitcoin_usd=97234.12,n=3i,u=4u,s="x",b=true 1795552004000000000`
	got, err := decodetest.Collect(t, d, line)
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	m := got[0]
	b, isBool := m.Fields["b"].(bool)
	if m.Name != "kafka_consumer" || m.Tags["topic_currency_rate"] != "currency.rate" || m.Time != 1795552004000000000 ||
		m.Fields["fields_bitcoin_usd"] != 97234.12 || m.Fields["n"] != int64(3) || m.Fields["u"] != uint64(4) || m.Fields["s"] != "x" ||
		!isBool || !b {
		t.Fatalf("%+v", m)
	}
	_, err = decodetest.Collect(t, d, `kafka_consumer fields_bitcoin_usd= 1`)
	if err == nil || !strings.HasPrefix(err.Error(), "invalid line protocol at byte") {
		t.Fatalf("error %v", err)
	}
	s, err := NewInflux(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err = decodetest.Collect(t, s, `m v=1 1795552004`)
	if err != nil || len(got) != 1 || got[0].Time != 1795552004*int64(time.Second) {
		t.Fatalf("precision: %+v (%v)", got, err)
	}
}

// FuzzInflux: our line protocol decoder never panics, errors
// are one line, and every metric it gives has a name and fields.
func FuzzInflux(f *testing.F) {
	data, err := os.ReadFile("../../../testdata/examples/influx.lp")
	if err != nil {
		f.Fatal(err)
	}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if i%20 == 0 {
			f.Add(string(line))
		}
	}
	f.Add(`m,t=a\ b f="q\"x" -1`)
	f.Add(`m f=1e400`)
	d, err := NewInflux(0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		got, err := decodetest.Collect(t, d, line)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		for _, m := range got {
			if m.Name == "" || len(m.Fields) == 0 {
				t.Fatalf("metric without name or fields from %q: %+v", line, m)
			}
		}
	})
}

// TestInfluxNonFinite: line protocol has no NaN or Inf; such text is a
// bad line, not a metric.
func TestInfluxNonFinite(t *testing.T) {
	d, err := NewInflux(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"m v=NaN 1", "m v=Inf 1", "m v=-Inf 1", "m v=1e400 1"} {
		if got, err := decodetest.Collect(t, d, line); err == nil && len(got) > 0 {
			if f, ok := got[0].Fields["v"].(float64); ok && (math.IsNaN(f) || f > 1e308 || f < -1e308) {
				t.Errorf("%q gave %v", line, f)
			}
		}
	}
}
