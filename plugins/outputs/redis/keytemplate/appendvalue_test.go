package keytemplate

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// A number left as text (Kind Decimal) is written exactly as the same
// number parsed (Kind Float) is: the copy of text already in its shortest
// form never shows.
func TestAppendValueDecimalAsFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(text string) {
		v, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(v, 0) {
			return
		}
		lazy := AppendValue(nil, &metricline.Field{Kind: metricline.Decimal, Str: []byte(text)})
		parsed := AppendValue(nil, &metricline.Field{Kind: metricline.Float, Float: v})
		if !bytes.Equal(lazy, parsed) {
			t.Fatalf("%q: as text %q, as a float %q", text, lazy, parsed)
		}
	}
	for _, s := range []string{"0", "-0", "97.5", "0.000001", "0.0000001", "1e-7", "100000000000000000000", "1000000000000000000000",
		"99999999999999900000", "0.50", "1E3", "123456789012345678", "0.1234567890123456789", "-12.25"} {
		check(s)
	}
	for i := 0; i < 200000; i++ {
		v := float64(int64(rng.Uint64()>>rng.IntN(64))) / math.Pow10(rng.IntN(30))
		if rng.IntN(2) == 0 {
			v = -v
		}
		check(strconv.FormatFloat(v, "fgeE"[rng.IntN(4)], rng.IntN(20)-1, 64))
	}
}

func FuzzAppendValueDecimalAsFloat(f *testing.F) {
	f.Add("97.5")
	f.Add("0.0000010")
	f.Fuzz(func(t *testing.T, text string) {
		v, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(v, 0) {
			return
		}
		lazy := AppendValue(nil, &metricline.Field{Kind: metricline.Decimal, Str: []byte(text)})
		parsed := AppendValue(nil, &metricline.Field{Kind: metricline.Float, Float: v})
		if !bytes.Equal(lazy, parsed) {
			t.Fatalf("%q: as text %q, as a float %q", text, lazy, parsed)
		}
	})
}
