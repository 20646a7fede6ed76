package redis_consumer

import (
	"bytes"
	"io"
	"log"
	"testing"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/lpcheck"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/metricgen"
)

// Our output writes every telegraf.Metric as Telegraf's serializer does,
// where Telegraf's parser reads that line back (package lpcheck); where it
// would not, it refuses the metric, and leaves the buffer as it was.
func FuzzOutputVsTelegraf(f *testing.F) {
	log.SetOutput(io.Discard) // Telegraf's serializer logs each field it leaves out
	f.Add([]byte("\x06cpu\x02\x04ho\x04h1\x05\x02ab\x00\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Add([]byte{9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24})
	for _, m := range lpcheck.Seeds() {
		f.Add(metricgen.Encode(m))
	}
	o := newOutput(io.Discard, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		tm := metricgen.Metric(data).ToTelegraf()
		want := lpcheck.Expect(t, tm)
		got, err := o.serialize([]byte("x"), []telegraf.Metric{tm})
		if err != nil && string(got) != "x" {
			t.Fatalf("refused (%v), but %q left in the buffer", err, got)
		}
		if err == nil && !bytes.HasSuffix(got, []byte("\n")) {
			t.Fatalf("%q: no newline", got)
		}
		lpcheck.Check(t, tm, want, bytes.TrimSuffix(got[1:], []byte("\n")), err)
	})
}
