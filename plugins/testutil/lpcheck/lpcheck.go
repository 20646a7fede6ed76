// Package lpcheck holds our line protocol encoders to Telegraf: the bytes
// its influx serializer writes (influx_sort_fields, influx_uint_support),
// where its own parser reads those bytes back as the metric, but for the
// tags cut of trailing backslashes; and a refusal (a
// *lineprotocol.CarryError) where it would not, so that no line of ours
// is refused by Telegraf or read as another metric.
package lpcheck

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	serializer "github.com/influxdata/telegraf/plugins/serializers/influx"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Want is what our encoder must do with a metric.
type Want struct {
	// Line is what Telegraf's serializer writes, without the newline, or
	// its error.
	Line string
	// Refused: Telegraf's serializer refuses the metric (Line is why);
	// ours must, with the same words.
	Refused bool
	// ReadBack, when not empty, says what Telegraf's parser makes of
	// Line, which is not the metric: ours must refuse it with a
	// *lineprotocol.CarryError. Empty: ours must write Line.
	ReadBack string
}

// Write says whether our encoder must write Line.
func (w Want) Write() bool { return !w.Refused && w.ReadBack == "" }

// Options are the options of Telegraf's influx serializer an encoder is
// held to: Sorted (influx_sort_fields, influx_uint_support), which the
// package's functions use, or the serializer's defaults (both false), with
// an encoder's FieldsInOrder and UintAsInt.
type Options struct{ SortFields, UintSupport bool }

// Sorted is the serializer with influx_sort_fields and influx_uint_support.
var Sorted = Options{SortFields: true, UintSupport: true}

// Expect returns what our encoder must do with m: Sorted.Expect.
func Expect(t testing.TB, m telegraf.Metric) Want {
	t.Helper()
	return Sorted.Expect(t, m)
}

// Expect returns what our encoder must do with m, with o.
func (o Options) Expect(t testing.TB, m telegraf.Metric) Want {
	t.Helper()
	s := &serializer.Serializer{SortFields: o.SortFields, UintSupport: o.UintSupport}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	out, err := s.Serialize(m)
	if err != nil {
		return Want{Line: err.Error(), Refused: true}
	}
	line := strings.TrimSuffix(string(out), "\n")
	return Want{Line: line, ReadBack: o.ReadsBack([]byte(line), m)}
}

// ReadsBack returns "" when Telegraf's parser reads line as m, but for
// what Telegraf's serializer leaves out by design: tag keys and values
// cut of their trailing backslashes, tags then empty, fields with an
// empty key or a NaN or infinite value. Otherwise it says what the parser
// read instead.
func ReadsBack(line []byte, m telegraf.Metric) string { return Sorted.ReadsBack(line, m) }

// ReadsBack is the package's ReadsBack for a line written with o: without
// influx_uint_support, an unsigned integer reads back as the integer the
// serializer writes for it.
func (o Options) ReadsBack(line []byte, m telegraf.Metric) string {
	p := &influx.Parser{}
	if err := p.Init(); err != nil {
		return err.Error()
	}
	ms, err := parse(p, line)
	switch {
	case err != nil:
		return fmt.Sprintf("refused: %v", err)
	case len(ms) != 1:
		return fmt.Sprintf("%d metrics", len(ms))
	}
	want, got := describe(o.expected(m)), describe(ms[0])
	if got != want {
		return fmt.Sprintf("%s, not %s", got, want)
	}
	return ""
}

func parse(p *influx.Parser, line []byte) (ms []telegraf.Metric, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return p.Parse(line)
}

// metric is a metric as a list: what is compared.
type metric struct {
	name   string
	tags   []telegraf.Tag
	fields []telegraf.Field
	time   int64
}

// expected is m as Telegraf's serializer means to write it.
func (o Options) expected(m telegraf.Metric) metric {
	e := metric{name: m.Name(), time: m.Time().UnixNano()}
	for _, t := range m.TagList() {
		k, v := strings.TrimRight(t.Key, `\`), strings.TrimRight(t.Value, `\`)
		if k != "" && v != "" {
			e.tags = append(e.tags, telegraf.Tag{Key: k, Value: v})
		}
	}
	for _, f := range m.FieldList() {
		if x, ok := f.Value.(float64); f.Key == "" || (ok && (math.IsNaN(x) || math.IsInf(x, 0))) {
			continue
		}
		v := f.Value
		if u, ok := v.(uint64); ok && !o.UintSupport {
			v = int64(min(u, math.MaxInt64))
		}
		e.fields = append(e.fields, telegraf.Field{Key: f.Key, Value: v})
	}
	return e
}

// describe writes everything a metric holds, value types and float bits
// included, tags and fields sorted by key (stably: a key held twice shows
// twice).
func describe(x any) string {
	var e metric
	switch m := x.(type) {
	case metric:
		e = m
	case telegraf.Metric:
		e = metric{name: m.Name(), time: m.Time().UnixNano()}
		for _, t := range m.TagList() {
			e.tags = append(e.tags, *t)
		}
		for _, f := range m.FieldList() {
			e.fields = append(e.fields, *f)
		}
	}
	tags := append([]telegraf.Tag(nil), e.tags...)
	sort.SliceStable(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	fields := append([]telegraf.Field(nil), e.fields...)
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].Key < fields[j].Key })
	var b strings.Builder
	fmt.Fprintf(&b, "%q", e.name)
	for _, t := range tags {
		fmt.Fprintf(&b, " tag %q=%q", t.Key, t.Value)
	}
	for _, f := range fields {
		v := f.Value
		if x, ok := v.(float64); ok {
			v = strconv.FormatUint(math.Float64bits(x), 16)
		}
		fmt.Fprintf(&b, " field %q=%T(%v)", f.Key, f.Value, v)
	}
	fmt.Fprintf(&b, " @%d", e.time)
	return b.String()
}

// Check fails t unless got (our line, without the newline) and err are
// what w says: Telegraf's bytes, which its parser reads back; Telegraf's
// refusal, in its words; or a CarryError where Telegraf writes a line it
// does not read back.
func Check(t testing.TB, m telegraf.Metric, w Want, got []byte, err error) {
	t.Helper()
	Sorted.Check(t, m, w, got, err)
}

// Check is the package's Check for an encoder held to o.
func (o Options) Check(t testing.TB, m telegraf.Metric, w Want, got []byte, err error) {
	t.Helper()
	var carry *lineprotocol.CarryError
	switch {
	case w.Refused && err == nil:
		t.Fatalf("%v: Telegraf refuses it (%s), we wrote %q", m, w.Line, got)
	case w.Refused && err.Error() != w.Line:
		t.Fatalf("%v: our error %q, Telegraf's %q", m, err, w.Line)
	case w.Refused:
	case w.ReadBack != "" && err == nil:
		t.Fatalf("%v: we wrote %q, which Telegraf's parser reads as %s", m, got, w.ReadBack)
	case w.ReadBack != "" && !errors.As(err, &carry):
		t.Fatalf("%v: Telegraf's line %q reads as %s; we refuse, but not as a CarryError: %v", m, w.Line, w.ReadBack, err)
	case w.ReadBack != "":
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("%v: a multi-line error: %q", m, err)
		}
	case err != nil:
		t.Fatalf("%v: Telegraf writes %q, which reads back; we refuse: %v", m, w.Line, err)
	case !bytes.Equal(got, []byte(w.Line)):
		t.Fatalf("%v:\n got %q\nwant %q", m, got, w.Line)
	default:
		if r := o.ReadsBack(got, m); r != "" { // the property itself, again on our bytes
			t.Fatalf("%v: our line %q reads as %s", m, got, r)
		}
	}
}

// Seeds are metrics at the edges of what line protocol carries, for the
// seeds of the differential fuzz targets: names, keys and values ending in
// backslashes (issue 19), a tag made only of them, a key that cut is
// another's, pairs of backslashes, a backslash before a separator or a
// quote, a measurement starting with '#', a tab. Each string is at most 11
// bytes (metricgen.Encode takes them).
func Seeds() []*metricline.Metric {
	m := func(name string, tags []string, fields ...string) *metricline.Metric {
		x := &metricline.Metric{Name: []byte(name), Time: 1795552004000000000}
		for i := 0; i < len(tags); i += 2 {
			x.Tags = append(x.Tags, metricline.Tag{Key: []byte(tags[i]), Value: []byte(tags[i+1])})
		}
		for _, k := range fields {
			x.Fields = append(x.Fields, metricline.Field{Key: []byte(k), Kind: metricline.Float, Float: 4})
		}
		return x
	}
	return []*metricline.Metric{
		m("disk", []string{"path", `C:\`}, "v"),
		m(`disk\`, []string{"id", "c"}, "v"),
		m("disk", []string{"id", "b"}, `dir\`, "v"),
		m("disk", []string{"id", `\\`, `\`, "x"}, "v"),
		m("disk", []string{`id\`, "1", "id", "2"}, "v"),
		m(`disk\\`, []string{`k\\`, `v\\\`}, `dir\\`),
		m(`a\ b`, []string{`k\ `, `v\,`}, `f\=`, `g\ `),
		m("m", []string{"t", `a\"b c`}, `f\"=`),
		m("m", []string{"t", `a\"b`}, `f\"`),
		m("#m", nil, "v"),
		m("m", []string{"t", "a\tb"}, "v"),
	}
}
