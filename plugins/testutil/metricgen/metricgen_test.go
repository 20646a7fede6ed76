package metricgen

import (
	"bytes"
	"math"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Encode gives the data Metric turns back into the same metric.
func TestEncode(t *testing.T) {
	m := &metricline.Metric{
		Name: []byte(`disk\`),
		Tags: []metricline.Tag{{Key: []byte("path"), Value: []byte(`C:\`)}, {Key: []byte(`\`), Value: []byte("")}},
		Fields: []metricline.Field{
			{Key: []byte(`dir\`), Kind: metricline.Float, Float: math.Copysign(0, -1)},
			{Key: []byte("i"), Kind: metricline.Int, Int: math.MinInt64},
			{Key: []byte("u"), Kind: metricline.Uint, Uint: math.MaxUint64},
			{Key: []byte("s"), Kind: metricline.String, Str: []byte("a\"b\\")},
			{Key: []byte("b"), Kind: metricline.Bool, Bool: true},
			{Key: []byte("d"), Kind: metricline.Decimal, Str: []byte("1e400")},
		},
		Time: -5,
	}
	got := Metric(Encode(m))
	if got.String() != m.String() || !bytes.Equal(got.Name, m.Name) {
		t.Fatalf("%v, want %v", got, m)
	}
	for i, tg := range m.Tags {
		if !bytes.Equal(got.Tags[i].Key, tg.Key) || !bytes.Equal(got.Tags[i].Value, tg.Value) {
			t.Fatalf("tag %d: %q=%q", i, got.Tags[i].Key, got.Tags[i].Value)
		}
	}
	for i := range m.Fields {
		w, g := &m.Fields[i], &got.Fields[i]
		if !bytes.Equal(g.Key, w.Key) || g.Kind != w.Kind || g.Text() != w.Text() ||
			(w.Kind == metricline.Float && math.Float64bits(g.Float) != math.Float64bits(w.Float)) {
			t.Fatalf("field %d: %q %v %q, want %q %v %q", i, g.Key, g.Kind, g.Text(), w.Key, w.Kind, w.Text())
		}
	}
	if got.Time != m.Time {
		t.Fatalf("time %d", got.Time)
	}
}

// One alphabet string in eight ends in a backslash.
func TestTrailingBackslashes(t *testing.T) {
	n := 0
	for b := 0; b < 256; b++ {
		r := reader{data: []byte{byte(b), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}
		if s := r.str(); len(s) > 0 && s[len(s)-1] == '\\' {
			n++
		}
	}
	if n < 256/8 {
		t.Fatalf("%d of 256 strings end in a backslash", n)
	}
}
