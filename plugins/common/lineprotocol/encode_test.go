package lineprotocol_test

import (
	"bytes"
	"io"
	"log"
	"strings"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricjson"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/lpcheck"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/metricgen"
)

// checkSame holds e to Telegraf (package lpcheck): Telegraf's bytes where
// its parser reads them back as m, but for the tags cut of trailing
// backslashes; its refusal, in its words; a CarryError where its line
// would not read back. The destination's bytes before are kept.
func checkSame(t *testing.T, e *lineprotocol.Encoder, m *metricline.Metric) {
	t.Helper()
	tm := m.ToTelegraf()
	o := lpcheck.Options{SortFields: !e.FieldsInOrder, UintSupport: !e.UintAsInt}
	want := o.Expect(t, tm)
	prefix := []byte("prefix ")
	got, err := e.AppendMetric(prefix, m)
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("dst prefix overwritten: %q", got)
	}
	got = got[len(prefix):]
	if err != nil && len(got) != 0 {
		t.Fatalf("refused (%v) but wrote %q", err, got)
	}
	o.Check(t, tm, want, got, err)
}

// encoders are the encoder with each of the options of Telegraf's influx
// serializer it follows: influx_sort_fields and influx_uint_support (the
// zero value), and without either or both (the serializer's defaults).
func encoders() []*lineprotocol.Encoder {
	return []*lineprotocol.Encoder{{}, {FieldsInOrder: true, UintAsInt: true}, {FieldsInOrder: true}, {UintAsInt: true}}
}

func TestEncodeLikeTelegraf(t *testing.T) {
	log.SetOutput(io.Discard) // Telegraf's serializer logs every field it leaves out
	f := func(key string, kind metricline.Kind) metricline.Field {
		return metricline.Field{Key: []byte(key), Kind: kind}
	}
	fl := f("usage_idle", metricline.Float)
	fl.Float = 97.5
	big := f("big", metricline.Float)
	big.Float = 1e300
	tiny := f("tiny", metricline.Float)
	tiny.Float = 5e-324
	nan := f("nan", metricline.Decimal)
	nan.Str = []byte("1e400")
	u := f("u", metricline.Uint)
	u.Uint = 1<<64 - 1
	s := f(`s k=,`, metricline.String)
	s.Str = []byte("a \"quoted\" \\ back\nslash")
	dup := f("usage_idle", metricline.Float)
	dup.Float = 1
	cases := []*metricline.Metric{
		{Name: []byte("cpu"), Tags: []metricline.Tag{{Key: []byte("host"), Value: []byte("h1")}, {Key: []byte("cpu"), Value: []byte("total")}},
			Fields: []metricline.Field{fl, big, tiny, u, s}, Time: 1795552004000000000},
		{Name: []byte("m, x\t"), Tags: []metricline.Tag{{Key: []byte(`k\`), Value: []byte(`v\\`)}, {Key: []byte(`e`), Value: []byte(`\`)}},
			Fields: []metricline.Field{nan, fl, dup}, Time: -1},
		{Name: []byte("only_nan"), Fields: []metricline.Field{nan}},
		{Name: []byte("no_fields"), Tags: []metricline.Tag{{Key: []byte("t"), Value: []byte("v ")}}},
		{Name: []byte(""), Fields: []metricline.Field{fl}},
	}
	for _, e := range encoders() {
		for _, m := range cases {
			checkSame(t, e, m)
		}
	}
}

// TestEncodeFieldsInOrder: without influx_sort_fields the fields keep the
// metric's order; a key given twice keeps its first place and its last
// value, as Telegraf's metric does; uints above int64 are the largest int.
func TestEncodeFieldsInOrder(t *testing.T) {
	m := &metricline.Metric{Name: []byte("m"), Time: 5, Fields: []metricline.Field{
		{Key: []byte("z"), Kind: metricline.Int, Int: 1},
		{Key: []byte("a"), Kind: metricline.Uint, Uint: 1<<64 - 1},
		{Key: []byte("z"), Kind: metricline.Bool, Bool: true},
		{Key: []byte("b"), Kind: metricline.Uint, Uint: 7},
	}}
	type opts struct{ inOrder, asInt bool }
	want := map[opts]string{
		{}:                           "m a=18446744073709551615u,b=7u,z=true 5",
		{inOrder: true}:              "m z=true,a=18446744073709551615u,b=7u 5",
		{asInt: true}:                "m a=9223372036854775807i,b=7i,z=true 5",
		{inOrder: true, asInt: true}: "m z=true,a=9223372036854775807i,b=7i 5",
	}
	for _, e := range encoders() {
		got, err := e.AppendMetric(nil, m)
		if err != nil || string(got) != want[opts{e.FieldsInOrder, e.UintAsInt}] {
			t.Errorf("%+v: %q (%v)", e, got, err)
		}
		checkSame(t, e, m)
	}
}

// Hostile: the encoder is reused across metrics of every shape, and the
// destination already holds data; neither leaks into the next line.
func TestEncodeReuse(t *testing.T) {
	log.SetOutput(io.Discard)
	es := encoders()
	for i := 0; i < 2000; i++ {
		data := []byte(strings.Repeat(string(rune('a'+i%26)), i%97) + string(rune(i)))
		checkSame(t, es[i%len(es)], metricgen.Metric(data))
	}
}

// FuzzEncodeVsTelegraf: for every metric, the same bytes as Telegraf's
// influx serializer, or the same refusal: with influx_sort_fields and
// influx_uint_support, and without them (see encoders).
func FuzzEncodeVsTelegraf(f *testing.F) {
	log.SetOutput(io.Discard)
	f.Add([]byte("\x06cpu\x02\x04ho\x04h1\x05\x02ab\x00\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Add([]byte{9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24})
	f.Add([]byte("\x08\xff\xfe\xfd\xfc\x03\x05a\\\x03b\\\\\x07\x07x\x01\xf0\x7f\x00\x00\x00\x00\x00\x00"))
	for _, m := range lpcheck.Seeds() {
		f.Add(metricgen.Encode(m))
	}
	es := encoders()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range es {
			checkSame(t, e, metricgen.Metric(data))
		}
	})
}

func BenchmarkAppendMetric(b *testing.B) {
	d := metricjson.NewJSON(0, "")
	d.FloatNumbers = true
	line := []byte(`{"fields":{"usage_guest":0,"usage_guest_nice":0,"usage_idle":97.5,"usage_iowait":0.125,"usage_irq":0,"usage_nice":0,` +
		`"usage_softirq":0.0625,"usage_steal":0,"usage_system":1.0625,"usage_user":1.25},` +
		`"name":"cpu","tags":{"cpu":"cpu-total","dc":"eu-west-1","env":"production","host":"host-01","rack":"r12"},"timestamp":1795552004}`)
	var m metricline.Metric
	if err := d.Decode(line, func(got *metricline.Metric) { m = *got }); err != nil {
		b.Fatal(err)
	}
	e := &lineprotocol.Encoder{}
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var err error
		if buf, err = e.AppendMetric(buf[:0], &m); err != nil {
			b.Fatal(err)
		}
	}
}

// The property behind every line we write: Telegraf's parser reads it back
// as the metric, but for the tags cut of trailing backslashes; a metric it
// would not read back is refused (a CarryError), never written. Every
// string of up to three bytes of an alphabet of the bytes line protocol
// treats specially (the backslash above all: at the end, doubled, before a
// separator, before a quote) as the measurement, a tag key, a tag value
// and a field key, and pairs of them in one metric.
func TestLinesReadBack(t *testing.T) {
	log.SetOutput(io.Discard)
	alphabet := []string{"a", `\`, " ", ",", "=", `"`, "#", "\t", "\v"}
	strs := []string{""}
	for n, from := 0, 0; n < 3; n++ {
		to := len(strs)
		for _, s := range strs[from:to] {
			for _, c := range alphabet {
				strs = append(strs, s+c)
			}
		}
		from = to
	}
	strs = strs[1:]
	e := &lineprotocol.Encoder{}
	counts := map[string]int{}
	try := func(name, tk, tv, fk string) {
		m := &metricline.Metric{
			Name:   []byte(name),
			Tags:   []metricline.Tag{{Key: []byte(tk), Value: []byte(tv)}, {Key: []byte("b"), Value: []byte("x")}},
			Fields: []metricline.Field{{Key: []byte(fk), Kind: metricline.Int, Int: 1}, {Key: []byte("z"), Kind: metricline.Bool, Bool: true}},
			Time:   5,
		}
		checkSame(t, e, m)
		w := lpcheck.Expect(t, m.ToTelegraf())
		switch {
		case w.Refused:
			counts["refused by Telegraf"]++
		case w.ReadBack != "":
			counts["refused: Telegraf's line reads back wrong"]++
		case strings.HasSuffix(tk, `\`) || strings.HasSuffix(tv, `\`):
			counts["written, tag trimmed"]++
		default:
			counts["written"]++
		}
	}
	for _, s := range strs {
		try(s, "t", "v", "f")
		try("m", s, "v", "f")
		try("m", "t", s, "f")
		try("m", "t", "v", s)
		try(s, s, s, s)
		try("m"+s, "t"+s, "v"+s, "f"+s)
	}
	// Not a test that cannot fail: each outcome is reached, often.
	// (Telegraf's own refusals, of metrics without a name or a field, are
	// TestEncodeLikeTelegraf's.)
	for _, k := range []string{"refused: Telegraf's line reads back wrong", "written, tag trimmed", "written"} {
		if counts[k] < 100 {
			t.Errorf("%s: only %d cases (%v)", k, counts[k], counts)
		}
	}
	t.Log(counts)
}
