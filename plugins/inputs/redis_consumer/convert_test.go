package redis_consumer

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricpairs"
)

// Stream mode's entryConverter writes an entry's pairs as metricpairs.ToMetric
// and the serializer do (the writers of package metricpairs are held to
// that path there), and refuses the entries they refuse with the same words,
// the buffer left as it was: typed and flat entries, tag_keys over a '#'
// tag, keys given twice, values and names outside the layout.
func TestConvertAsPairsMetric(t *testing.T) {
	p := New()
	p.Mode, p.Key, p.TagKeys = "stream", "s", []string{"host", "up"}
	p.Log = logger.NewWriter(io.Discard, "")
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	out := newOutput(io.Discard, nil)
	conv := newEntryConverter(entryFormat{measurement: p.Measurement, tagFilter: p.tagFilter, parser: p.parser}, out)
	const id = "1795552004123-7"
	def := time.UnixMilli(1795552004123)
	for _, kv := range [][]string{
		{"_measurement", "m", "_time", "5", "#host", "a", "host", `"b"`, "v", "1"},
		{"_measurement", "m", "up", "1.5e0", "v", "1"},
		{"_measurement", "m", "_time", "5", "v", "+Inf"},
		{"_measurement", "m", "_time", "5", "up", "true"},
		{"_time", "5", "v", "1"},
		{"_measurement", "m", "v", "1", "v", "2", "w", "x"},
		{"_measurement", "m", "v", "1", "w", "x", "v", "2"},
		{"_measurement", "m", "_id", "1", "v", "1"},
		{"_measurement", "m", "v", `"a"b"`},
		{"_measurement", "m", "v"},
		{"host", "h", "usage", "97.5", "n", "x"},
		{"host", "h"},
		{"a", "1", "b"},
	} {
		pairs := make([][]byte, len(kv))
		for i, s := range kv {
			pairs[i] = []byte(s)
		}
		prefix := []byte("x\n")
		want := bytes.Clone(prefix)
		m, werr := metricpairs.ToMetric(p.Measurement, pairs, nil, p.tagFilter, def)
		if werr == nil {
			want, werr = out.serialize(want, []telegraf.Metric{m})
		}
		got, gerr := conv.convert(bytes.Clone(prefix), entry{id: id, fields: pairs})
		switch {
		case (werr == nil) != (gerr == nil):
			t.Fatalf("%q: ToMetric %v, convert %v", kv, werr, gerr)
		case werr != nil && (werr.Error() != gerr.Error() || !bytes.Equal(got, prefix)):
			t.Fatalf("%q: ToMetric %v, convert %v leaving %q", kv, werr, gerr, got)
		case !bytes.Equal(got, want):
			t.Fatalf("%q:\nToMetric %q\nconvert  %q", kv, want, got)
		}
	}
}
