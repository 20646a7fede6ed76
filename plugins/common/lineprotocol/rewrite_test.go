package lineprotocol_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/lpcheck"
)

// A line protocol payload comes out as Telegraf's parser and serializer
// would write it, or is refused when they refuse it (or give no metric),
// or when Telegraf's parser would not read back what its serializer
// writes for one of its metrics (package lpcheck).
func FuzzRewriteVsTelegraf(f *testing.F) {
	log.SetOutput(io.Discard)
	for _, s := range []string{
		`cpu,host=a,cpu=total usage_idle=97.5,n=3i,u=4u,s="x\"y",b=true 1795552004000000000`,
		`cpu usage=1`,
		"m f=1 1\nn g=2\n# c\n",
		`m,t=a\ b f=1e300,g=-0,h=1.50`,
		`cpu usage=`,
		"",
		"# nothing",
		// Canonical lines, copied as they are, and near misses.
		"cpu,cpu=cpu-total,dc=eu-west-1,host=host-01 usage_guest=0,usage_idle=97.125,usage_user=2.5 1795552004000000000",
		"m,a=1,b=2 f=1i,g=18446744073709551615u,h=true,s=\"a b,c=d\" 9223372036854775807\nn f=-1.5 0\n",
		"m,b=1,a=2 f=1 1", "m,a=1,a=2 f=1 1", "m g=1,f=2 1", "m f=1,f=2 1", "m g=1,f=2,g=3 1",
		"cpu,host=h usage_user=2.5,usage_idle=97.125,s=\"x y\",n=3i,b=true 1795552004000000000\nm f=1 1",
		"m f=-0i 1", "m f=01i 1", "m f=1.0 1", "m f=1e3 1", "m f=100000000000000000000u 1",
		"m f=1 9223372036854775808", "m f=1 01", "m f=1 -1", "m f=T 1", "m f=\"\\\" 1",
		"m f=1 1\n\nn f=1 1", "m f=1 1\r", "m f=1  1", "m  f=1 1", "m f=1 1 ",
		// Backslashes (issue 19): what Telegraf wrote for disk\ and dir\,
		// pairs at the end, and a \" that reads back as " once written.
		`disk\,id=c v=4 1`, `disk,id=b dir\=2 1`, `disk\\,id=c dir\\=2 1`, `m\ x\\ f=1 1`,
		`m,t=a\\"b\ c f=1 1`, `m a\\"b\ c=1 1`, `m,t=a\"b f=1 1`, "m,t=a\\tb f=1 1\nn f=2 2",
		`m,t=C:\\ f=1 1`, `m,t=a\\b\ c f=1 1`,
	} {
		f.Add(s, false)
	}
	f.Add(`m f=1 1795552004`, true)
	def := time.Unix(1795552004, 987654321)
	rewriters := map[bool]*lineprotocol.Rewriter{}
	for _, sec := range []bool{false, true} {
		precision := time.Duration(0)
		if sec {
			precision = time.Second
		}
		lr, err := lineprotocol.NewRewriter(precision)
		if err != nil {
			f.Fatal(err)
		}
		rewriters[sec] = lr
	}
	f.Fuzz(func(t *testing.T, payload string, seconds bool) {
		p := &influx.Parser{}
		if seconds {
			p.InfluxTimestampPrecision = 1e9
		}
		if err := p.Init(); err != nil {
			t.Fatal(err)
		}
		p.SetTimeFunc(func() time.Time { return def })
		ms, panicked, perr := parseNoPanic(p, []byte(payload))
		got, err := rewriters[seconds].Rewrite([]byte("x"), []byte(payload), def)
		switch {
		case err != nil && string(got) != "x":
			t.Fatalf("%q: refused, but %q left in the buffer", payload, got)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Fatalf("%q: a multi-line error %q", payload, err)
		case perr != nil || panicked || len(ms) == 0:
			if err == nil {
				t.Fatalf("%q: Telegraf refuses it (%v), we wrote %q", payload, perr, got)
			}
			return
		}
		var want []byte
		for _, m := range ms {
			w := lpcheck.Expect(t, m)
			if !w.Write() {
				if err == nil {
					t.Fatalf("%q: we wrote %q, but Telegraf refuses %v (%s) or reads its line back as %s", payload, got, m, w.Line, w.ReadBack)
				}
				return
			}
			want = append(append(want, w.Line...), '\n')
		}
		switch {
		case err != nil:
			t.Fatalf("%q: Telegraf writes %q, and reads it back; we refuse: %v", payload, want, err)
		case !bytes.Equal(got[1:], want):
			t.Fatalf("%q:\n got %q\nwant %q", payload, got[1:], want)
		}
	})
}

// parseNoPanic: Telegraf's parser panics on a few malformed lines (`0\`).
func parseNoPanic(p *influx.Parser, b []byte) (ms []telegraf.Metric, panicked bool, err error) {
	defer func() {
		if recover() != nil {
			ms, panicked, err = nil, true, nil
		}
	}()
	ms, err = p.Parse(b)
	return ms, false, err
}

// The copy is taken for what Telegraf writes (so the decoder's cost is
// saved where it matters) and refused wherever copying could differ from
// parsing and writing again; either way the result is the decoder's.
func TestCanonicalLinesAreCopied(t *testing.T) {
	copied := []string{
		"cpu,cpu=cpu-total,dc=eu-west-1,host=host-01 usage_guest=0,usage_idle=97.125,usage_user=2.5 1795552004000000000",
		"m f=1i,g=9999999999999999999u,h=false,s=\"a b,c=d\" 9223372036854775807\nn f=-1.5 0\n",
		"m g=1,f=2 1", // fields sorted on the way
		"cpu,host=h usage_user=2.5,usage_idle=97.125,usage_guest=0,s=\"x y\",n=3i,b=true 1795552004000000000\nm f=1 1",
	}
	refused := []string{
		"m,b=1,a=2 f=1 1", "m,a=1,a=2 f=1 1", "m g=1,f=2,g=3 1", "m f=1,f=2 1", "m f=1", "m f=1 1\n\nn f=1 1",
		"m f=-0i 1", "m f=01i 1", "m f=1.0 1", "m f=1e3 1", "m f=T 1", "m f=1 9223372036854775808",
		"m f=1 -1", "m f=18446744073709551615u 1", "m,t=a\\ b f=1 1", "m f=\"\\\\\" 1", "m f=1 1\r", "m f=1 1 ", "# c", "",
	}
	slow, err := lineprotocol.NewRewriter(0)
	if err != nil {
		t.Fatal(err)
	}
	slow.NoCopy()
	for _, payload := range append(copied, refused...) {
		want, werr := slow.Rewrite(nil, []byte(payload), time.Unix(1, 0))
		fast, err := lineprotocol.NewRewriter(0)
		if err != nil {
			t.Fatal(err)
		}
		got, gerr := fast.Rewrite(nil, []byte(payload), time.Unix(1, 0))
		if !bytes.Equal(got, want) || (werr == nil) != (gerr == nil) {
			t.Errorf("%q: copied %q (%v), decoded %q (%v)", payload, got, gerr, want, werr)
		}
	}
	copies := func(p string) bool {
		_, ok := slow.TryCopyCanonical(nil, []byte(p))
		return ok
	}
	for _, p := range copied {
		if !copies(p) {
			t.Errorf("%q not copied", p)
		}
	}
	for _, p := range refused {
		if copies(p) {
			t.Errorf("%q copied", p)
		}
	}
}

// Lines built from pieces near the edges of what is copied (field order,
// keys given twice, numbers in and out of their shortest form, bounds of
// int64 and uint64, strings with separators): whatever is copied is what
// the decoder writes, byte for byte.
func TestCopiedLinesAsDecoded(t *testing.T) {
	keys := []string{"a", "b", "ab", "usage_idle", "usage_guest", "usage_guest_nice", "x-y", "A", "_"}
	values := []string{"0", "-0", "1", "97.5", "1.50", "1e3", "01", ".5", "1.", "123456789012345", "1234567890123456",
		"0.000001", "5i", "-5i", "-0i", "0i", "922337203685477580i", "9223372036854775807i", "-9223372036854775808i",
		"7u", "18446744073709551615u", "1844674407370955161u", "true", "false", "t", "TRUE",
		`"a b,c=d"`, `""`, `"x\"y"`, `"é"`, "NaN", "inf", "-"}
	times := []string{"1", "0", "1795552004000000000", "9223372036854775807", "9223372036854775808", "01", "-1"}
	rng := rand.New(rand.NewPCG(1, 2))
	slow, err := lineprotocol.NewRewriter(0)
	if err != nil {
		t.Fatal(err)
	}
	slow.NoCopy()
	fast, err := lineprotocol.NewRewriter(0)
	if err != nil {
		t.Fatal(err)
	}
	copiedN := 0
	for n := 0; n < 50000; n++ {
		var b strings.Builder
		for l := 0; l < 1+rng.IntN(2); l++ {
			b.WriteString("cpu")
			for j, k := range []string{"dc", "host", "a"}[:rng.IntN(4)] {
				fmt.Fprintf(&b, ",%s=v%d", k, j)
			}
			b.WriteByte(' ')
			for j := 0; j < 1+rng.IntN(5); j++ {
				if j > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%s=%s", keys[rng.IntN(len(keys))], values[rng.IntN(len(values))])
			}
			fmt.Fprintf(&b, " %s\n", times[rng.IntN(len(times))])
		}
		payload := []byte(b.String())
		got, ok := fast.TryCopyCanonical([]byte("x"), payload)
		if !ok {
			if string(got) != "x" {
				t.Fatalf("%q: not copied, but %q left in the buffer", payload, got)
			}
			continue
		}
		copiedN++
		want, err := slow.Rewrite([]byte("x"), payload, time.Unix(1, 0))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%q:\ncopied  %q\ndecoded %q (%v)", payload, got, want, err)
		}
	}
	if copiedN < 1500 {
		t.Fatalf("only %d of 50000 lines copied: the test no longer reaches the copy", copiedN)
	}
}
