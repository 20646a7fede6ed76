package redis_consumer

import (
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	outquote "github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/quote"
)

// FuzzQuoteDocument: no document panics the quote parser; an error is
// one line; an accepted document gives one metric per price, finite.
func FuzzQuoteDocument(f *testing.F) {
	f.Add(doc)
	f.Add(`{"timestamp":1,"quote":"usd","prices":[{"id":"x","price":"1e308"},{"id":"y","price":1.5}]}`)
	f.Add(`{"timestamp":-1,"quote":"usd","prices":[]}`)
	f.Add(`{"timestamp":1,"quote":"usd","prices":[{"id":"x","price":"NaN"}]}`)
	f.Add(`{"timestamp":1,"quote":"usd","prices":[{"id":"x","price":"1e400"}]} trailing`)
	p := New()
	p.Log = logger.NewWriter(io.Discard, "")
	if err := p.Init(); err != nil {
		f.Fatal(err)
	}
	q := newQuote(p, nil)
	f.Fuzz(func(t *testing.T, text string) {
		ms, err := q.parse([]byte(text))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		for _, m := range ms {
			v, ok := m.GetField("price")
			f, isFloat := v.(float64)
			if !ok || !isFloat || math.IsNaN(f) || math.IsInf(f, 0) {
				t.Fatalf("%q gave price %v", text, v)
			}
		}
	})
}

// FuzzQuoteRoundTrip: a price as redis-output writes it reads back as the
// same float64, for any finite float.
func FuzzQuoteRoundTrip(f *testing.F) {
	f.Add(97234.12)
	f.Add(1.2345678901234e-05)
	f.Add(5e-324)
	f.Add(math.MaxFloat64)
	f.Add(math.Copysign(0, -1))
	p := New()
	p.Log = logger.NewWriter(io.Discard, "")
	if err := p.Init(); err != nil {
		f.Fatal(err)
	}
	q := newQuote(p, nil)
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		text := `{"timestamp":1795552004,"quote":"usd","prices":[{"id":"c","price":"` + string(outquote.FormatPrice(nil, v)) + `"}]}`
		ms, err := q.parse([]byte(text))
		if err != nil || len(ms) != 1 {
			t.Fatalf("%v: %v", v, err)
		}
		got, _ := ms[0].GetField("price")
		if got.(float64) != v || ms[0].Time() != time.Unix(1795552004, 0) {
			t.Fatalf("%v came back as %v", v, got)
		}
	})
}
