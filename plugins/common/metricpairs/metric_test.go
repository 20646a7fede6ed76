package metricpairs

import (
	"reflect"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	m, err := Decode(pairs("_measurement", "cpu", "_time", "-5", "#host", "a", "#_x", "b", "usage", "1.5",
		`\_id`, `"x"`, `\#n`, "3i", `\\b`, "true"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Metric{Name: "cpu", Time: -5, HasTime: true, Tags: map[string]string{"host": "a", "_x": "b"},
		Fields: map[string]any{"usage": 1.5, "_id": "x", "#n": int64(3), `\b`: true}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("%+v\nwant %+v", m, want)
	}
	if m, err := Decode(pairs("_measurement", "cpu", "v", "1")); err != nil || m.HasTime {
		t.Fatalf("without _time: %+v %v", m, err)
	}
}

func TestDecodeRefusesBrokenLayouts(t *testing.T) {
	for _, c := range []struct {
		pairs []string
		want  string
	}{
		{[]string{"_time", "1", "v", "1"}, "no _measurement field"},
		{[]string{"_measurement", "", "v", "1"}, "_measurement is empty"},
		{[]string{"_measurement", "a", "_measurement", "b", "v", "1"}, "_measurement given twice"},
		{[]string{"_measurement", "a", "_time", "1.5", "v", "1"}, `_time "1.5" is not an integer number of nanoseconds`},
		{[]string{"_measurement", "a", "_time", "9223372036854775808", "v", "1"}, "out of range"},
		{[]string{"_measurement", "a", "_time", "1", "_time", "2", "v", "1"}, "_time given twice"},
		{[]string{"_measurement", "a", "_value", "1"}, `field "_value": names starting with '_' are reserved`},
		{[]string{"_measurement", "a", "#", "x", "v", "1"}, "empty key"},
		{[]string{"_measurement", "a", "#h", "x", "#h", "y", "v", "1"}, `tag "h" given twice`},
		{[]string{"_measurement", "a", `\`, "1"}, "empty key"},
		{[]string{"_measurement", "a", "", "1"}, "empty name"},
		{[]string{"_measurement", "a", "v", "1", `\v`, "2"}, `field "v" given twice`},
		{[]string{"_measurement", "a", "v", "NaN"}, `field "v": "NaN" is not a value of the layout`},
		{[]string{"_measurement", "a", "#h", "x"}, "no fields"},
		{[]string{"_measurement", "a", "v"}, "odd number"},
	} {
		_, err := Decode(pairs(c.pairs...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.pairs, err, c.want)
		}
	}
}

// BenchmarkDecode reads a hash in the typed layout as keys mode does.
func BenchmarkDecode(b *testing.B) {
	text := []string{"_measurement", "cpu", "_time", "1795552004000000000", "#host", "a", "#region", "eu-west",
		"usage_user", "1.5", "usage_system", "0.25", "count", "12i", "up", "true", "note", `"ok"`}
	in := make([][]byte, 0, len(text))
	for _, s := range text {
		in = append(in, []byte(s))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(in); err != nil {
			b.Fatal(err)
		}
	}
}
