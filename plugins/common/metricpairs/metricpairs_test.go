package metricpairs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

func value(t testing.TB, f metricline.Field) string {
	t.Helper()
	b, err := AppendValue(nil, &f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValuesAreWrittenInLineProtocolSyntax(t *testing.T) {
	for _, c := range []struct {
		f    metricline.Field
		want string
	}{
		{metricline.Field{Kind: metricline.Float, Float: 1.5}, "1.5"},
		{metricline.Field{Kind: metricline.Float, Float: 3}, "3"},
		{metricline.Field{Kind: metricline.Float, Float: math.Copysign(0, -1)}, "-0"},
		{metricline.Field{Kind: metricline.Float, Float: 1e-300}, "1e-300"},
		{metricline.Field{Kind: metricline.Float, Float: 0.000012345678901234}, "0.000012345678901234"},
		{metricline.Field{Kind: metricline.Float, Float: 97234.12}, "97234.12"},
		{metricline.Field{Kind: metricline.Float, Float: 1e21}, "1e+21"},
		{metricline.Field{Kind: metricline.Float, Float: math.Inf(1)}, "+Inf"},
		{metricline.Field{Kind: metricline.Float, Float: math.Inf(-1)}, "-Inf"},
		{metricline.Field{Kind: metricline.Decimal, Str: []byte("2.50")}, "2.5"},
		{metricline.Field{Kind: metricline.Int, Int: math.MinInt64}, "-9223372036854775808i"},
		{metricline.Field{Kind: metricline.Uint, Uint: math.MaxUint64}, "18446744073709551615u"},
		{metricline.Field{Kind: metricline.Bool, Bool: true}, "true"},
		{metricline.Field{Kind: metricline.String, Str: []byte(`say "hi" \ or \" 😀` + "\n")}, `"say \"hi\" \\ or \\\" 😀` + "\n\""},
		{metricline.Field{Kind: metricline.String, Str: nil}, `""`},
	} {
		if got := value(t, c.f); got != c.want {
			t.Errorf("%s: %q, want %q", c.f.Text(), got, c.want)
		}
	}
	if _, err := AppendValue(nil, &metricline.Field{Key: []byte("x"), Kind: metricline.Float, Float: math.NaN()}); err == nil {
		t.Error("NaN was written")
	}
}

func TestValuesReadBack(t *testing.T) {
	for text, want := range map[string]any{
		"1.5": 1.5, "3": 3.0, "-0": math.Copysign(0, -1), "1e-300": 1e-300, "+Inf": math.Inf(1), "-Inf": math.Inf(-1),
		"1E3": 1000.0, ".5": 0.5, "-3i": int64(-3), "0i": int64(0), "3u": uint64(3), "true": true, "T": true, "FALSE": false,
		`""`: "", `"a\"b"`: `a"b`, `"a\\b"`: `a\b`, `"a\nb"`: `a\nb`, `"\\\""`: `\"`, "\"two\nlines\"": "two\nlines",
	} {
		got, err := ParseValue([]byte(text))
		if err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		if reflect.TypeOf(got) != reflect.TypeOf(want) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%q: %T %v, want %T %v", text, got, got, want, want)
		}
		if f, ok := got.(float64); ok && math.Signbit(f) != math.Signbit(want.(float64)) {
			t.Errorf("%q: the sign of zero is lost", text)
		}
	}
}

// The hostile side: every value outside the grammar is an error that says
// so, never a value of some other type.
func TestValuesOutsideTheGrammarAreRefused(t *testing.T) {
	for _, text := range []string{
		"", "NaN", "Inf", "inf", "+inf", "Infinity", "0x1p3", "1_000", "1e400", "-1e400", "3.5i", "+3i", "i", "-i",
		"9223372036854775808i", "-3u", "18446744073709551616u", "u", "yes", "on", `"`, `"abc`, `abc"`, `"a"b"`,
		`"a\"`, `"a\\\"`, "12 ", " 12", "1,5", "--1",
	} {
		if v, err := ParseValue([]byte(text)); err == nil {
			t.Errorf("%q read as %T %v", text, v, v)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: multi-line error %q", text, err)
		}
	}
}

func TestNamesAreEscapedByTheirFirstByte(t *testing.T) {
	for key, want := range map[string]string{
		"usage": "usage", "_id": `\_id`, "#x": `\#x`, `\x`: `\\x`, "a_b#c": "a_b#c", "_measurement": `\_measurement`,
	} {
		if got := string(AppendFieldName(nil, []byte(key))); got != want {
			t.Errorf("field key %q written %q, want %q", key, got, want)
		}
	}
	if got := string(AppendTagName(nil, []byte("_host"))); got != "#_host" {
		t.Errorf("tag %q", got)
	}
}

func pairs(kv ...string) [][]byte {
	out := make([][]byte, len(kv))
	for i, s := range kv {
		out[i] = []byte(s)
	}
	return out
}

func TestTyped(t *testing.T) {
	if Typed(pairs("usage", "1.5", "host", "a")) || Typed(pairs("_measurementx", "1")) || Typed(nil) {
		t.Fatal("flat pairs taken for typed")
	}
	if !Typed(pairs("usage", "1.5", "_measurement", "a")) || !Typed(pairs("_time", "1")) {
		t.Fatal("typed pairs taken for flat")
	}
}

// randomField is a field of any kind, with the edges of each type often.
func randomField(r *rand.Rand) metricline.Field {
	floats := []float64{0, math.Copysign(0, -1), 1e-300, 5e-324, math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), 1e21, 1e-6, 0.1}
	switch r.IntN(6) {
	case 0:
		return metricline.Field{Kind: metricline.Float, Float: floats[r.IntN(len(floats))]}
	case 1:
		v := math.Float64frombits(r.Uint64())
		if math.IsNaN(v) {
			v = 1
		}
		return metricline.Field{Kind: metricline.Float, Float: v}
	case 2:
		x, y := r.Int64(), r.Int64()
		ints := []int64{math.MinInt64, math.MaxInt64, 0, -1, x - y}
		return metricline.Field{Kind: metricline.Int, Int: ints[r.IntN(len(ints))]}
	case 3:
		uints := []uint64{math.MaxUint64, 0, 1 << 63, r.Uint64()}
		return metricline.Field{Kind: metricline.Uint, Uint: uints[r.IntN(len(uints))]}
	case 4:
		return metricline.Field{Kind: metricline.Bool, Bool: r.IntN(2) == 0}
	}
	b := make([]byte, r.IntN(40))
	for i := range b {
		b[i] = (`"\ab` + "\n\x00\xff")[r.IntN(7)]
	}
	return metricline.Field{Kind: metricline.String, Str: b}
}

// Property: any value written reads back as the same value and type,
// bit for bit (the sign of zero, infinities, bytes that are not UTF-8).
func TestValueRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		f := randomField(r)
		text := value(t, f)
		got, err := ParseValue([]byte(text))
		if err != nil {
			t.Fatalf("%s written %q: %v", f.Text(), text, err)
		}
		if !sameValue(got, f.Value()) {
			t.Fatalf("%s written %q read back as %T %v", f.Text(), text, got, got)
		}
	}
}

func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && math.Float64bits(fa) == math.Float64bits(fb)
	}
	return a == b
}

// FuzzValue: no text panics the value parser, an error is one line, and
// what it accepts is written back as text that reads the same.
func FuzzValue(f *testing.F) {
	for _, s := range []string{"1.5", "-0", "+Inf", "3i", "18446744073709551615u", "true", `"a\"b\\"`, `"`, "1e400", "0x1p3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		v, err := ParseValue([]byte(text))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		var field metricline.Field
		switch v := v.(type) {
		case float64:
			field = metricline.Field{Kind: metricline.Float, Float: v}
		case int64:
			field = metricline.Field{Kind: metricline.Int, Int: v}
		case uint64:
			field = metricline.Field{Kind: metricline.Uint, Uint: v}
		case bool:
			field = metricline.Field{Kind: metricline.Bool, Bool: v}
		case string:
			field = metricline.Field{Kind: metricline.String, Str: []byte(v)}
		}
		again, err := ParseValue([]byte(value(t, field)))
		if err != nil || !sameValue(again, v) {
			t.Fatalf("%q read as %T %v, written back and read as %v (%v)", text, v, v, again, err)
		}
	})
}

// TestDecimalTextIsWrittenAsItsFloat: a number kept as text (Decimal) is
// written exactly as its float64 is, whether the text is copied (already
// the shortest plain form) or parsed and formatted.
func TestDecimalTextIsWrittenAsItsFloat(t *testing.T) {
	texts := []string{"0", "-0", "1.5", "97.5", "1200", "0.000001", "0.0000001", "0.5", "0.50", "1e3",
		"123456789012345678901", "1234567890123456789012", "1000000000000000000000", "120000000000000000000", "100000000000000000000", "999999999999999999999",
		"0.1234567890123456", "12345.678901234", "-0.000012345678901234", "3.0", "00", "1."}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		v := math.Float64frombits(r.Uint64())
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		texts = append(texts, fmt.Sprint(v), fmt.Sprintf("%.*f", r.IntN(20), v*math.Pow(10, float64(r.IntN(40)-20))))
	}
	for _, text := range texts {
		f := metricline.Field{Kind: metricline.Decimal, Str: []byte(text)}
		v, ok := f.Number()
		if !ok || math.IsInf(v, 0) {
			continue
		}
		want, err := AppendFloat(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if got := value(t, f); got != string(want) {
			t.Errorf("%q written %q, its float64 %q", text, got, want)
		}
	}
}

// ReadValue, the reader under ParseValue, allocates nothing for a value it
// takes; escaped strings go onto the scratch buffer one after another, and
// a value it refuses leaves the buffer as it was.
func TestReadValueWithoutAllocating(t *testing.T) {
	scratch := make([]byte, 0, 64)
	for _, text := range []string{"1.5", "0.1", "1.0", "1e-300", "+Inf", "-3i", "3u", "true", `"plain"`, `"a\"b"`} {
		v := []byte(text)
		var f metricline.Field
		var rerr error
		if a := testing.AllocsPerRun(100, func() { _, rerr = ReadValue(&f, v, scratch[:0]) }); a != 0 || rerr != nil {
			t.Errorf("%s: %.1f allocations (%v)", text, a, rerr)
		}
	}
	var first, refused, second metricline.Field
	scratch, err := ReadValue(&first, []byte(`"a\"b"`), scratch[:0])
	if err != nil || string(first.Str) != `a"b` {
		t.Fatalf("%q %v", first.Str, err)
	}
	if after, err := ReadValue(&refused, []byte(`"x\\y"z"`), scratch); err == nil || len(after) != len(scratch) {
		t.Fatalf("a refused string: %v, scratch %q -> %q", err, scratch, after)
	}
	scratch, err = ReadValue(&second, []byte(`"c\\d"`), scratch)
	if err != nil || string(second.Str) != `c\d` || string(first.Str) != `a"b` || string(scratch) != `a"bc\d` {
		t.Fatalf("%q %q %q %v", first.Str, second.Str, scratch, err)
	}
}
