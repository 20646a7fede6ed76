package lineprotocol

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// fixedNow is the clock of both parsers in the differential tests, so a
// line without a timestamp gets the same time from each.
func fixedNow() time.Time { return time.Unix(1795552004, 123456789) }

// sameAsTelegraf decodes line with ours and with Telegraf's parser (same
// precision, same clock) and fails on any difference: the metrics (name,
// tags, fields with their types and values in order, time), or whether
// and where the line is refused. The one difference by design: a metric
// Telegraf's parser lets through without fields, we refuse.
func sameAsTelegraf(t *testing.T, d *Influx, precision time.Duration, line []byte) {
	t.Helper()
	p := &influx.Parser{}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	if precision > 0 {
		p.SetTimePrecision(precision)
	}
	p.SetTimeFunc(fixedNow)
	want, panicked, werr := parseRecover(p, line)

	var got []string
	gerr := d.Decode(line, func(m *metricline.Metric) { got = append(got, describe(m)) })

	if panicked {
		// A line where the machine ends a metric it never began: we refuse.
		if gerr == nil || !strings.Contains(gerr.Error(), "at byte ") {
			t.Fatalf("%q: Telegraf's parser panics, we must refuse at a byte, got %v (%q)", line, gerr, got)
		}
		return
	}
	if werr != nil {
		var pe *influx.ParseError
		if !errors.As(werr, &pe) {
			t.Fatalf("%q: Telegraf's error is not a ParseError: %v", line, werr)
		}
		if gerr == nil {
			t.Fatalf("%q: Telegraf refuses it (%v), we decode %q", line, werr, got)
		}
		if at := fmt.Sprintf("at byte %d:", pe.Column); !strings.Contains(gerr.Error(), at) {
			t.Fatalf("%q: our error %q does not name byte %d (%v)", line, gerr, pe.Column, werr)
		}
		return
	}
	wantText := make([]string, 0, len(want))
	noFields := false
	for _, m := range want {
		if len(m.FieldList()) == 0 {
			noFields = true
			break
		}
		c := &metricline.Metric{Name: []byte(m.Name()), Time: m.Time().UnixNano()}
		for _, tg := range m.TagList() {
			c.Tags = append(c.Tags, metricline.Tag{Key: []byte(tg.Key), Value: []byte(tg.Value)})
		}
		for _, f := range m.FieldList() {
			field := metricline.Field{Key: []byte(f.Key)}
			switch v := f.Value.(type) {
			case float64:
				field.Kind, field.Float = metricline.Float, v
			case int64:
				field.Kind, field.Int = metricline.Int, v
			case uint64:
				field.Kind, field.Uint = metricline.Uint, v
			case string:
				field.Kind, field.Str = metricline.String, []byte(v)
			case bool:
				field.Kind, field.Bool = metricline.Bool, v
			default:
				t.Fatalf("%q: Telegraf gives a %T field", line, v)
			}
			c.Fields = append(c.Fields, field)
		}
		wantText = append(wantText, describe(c))
	}
	if noFields {
		if gerr == nil || !strings.Contains(gerr.Error(), "at byte ") {
			t.Fatalf("%q: a metric without fields must be refused at a byte, got %v", line, gerr)
		}
		return
	}
	if gerr != nil {
		// The same quirk as the panic above, after a line that was
		// read: the machine ends a metric it never began (`\` alone),
		// and Telegraf's parser hands out the metric before once more.
		// We refuse that line, and keep what came before it.
		n := len(wantText)
		if strings.Contains(gerr.Error(), "no measurement") && n >= 2 && wantText[n-1] == wantText[n-2] &&
			strings.Join(got, "\n") == strings.Join(wantText[:n-1], "\n") {
			return
		}
		t.Fatalf("%q: Telegraf decodes %q, we refuse: %v", line, wantText, gerr)
	}
	if strings.Join(got, "\n") != strings.Join(wantText, "\n") {
		t.Fatalf("%q:\n got %q\nwant %q", line, got, wantText)
	}
}

func parseRecover(p *influx.Parser, line []byte) (ms []telegraf.Metric, panicked bool, err error) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	ms, err = p.Parse(line)
	return ms, false, err
}

// describe writes everything a metric holds, types and float bits included.
func describe(m *metricline.Metric) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%q", m.Name)
	for _, t := range m.Tags {
		fmt.Fprintf(&b, " tag %q=%q", t.Key, t.Value)
	}
	for i := range m.Fields {
		f := &m.Fields[i]
		kind := f.Kind
		if kind == metricline.Decimal { // LazyNumbers: reads as the same float
			kind = metricline.Float
		}
		fmt.Fprintf(&b, " field %q kind %d ", f.Key, kind)
		switch f.Kind {
		case metricline.Float, metricline.Decimal:
			v, _ := f.Number()
			fmt.Fprintf(&b, "%x", math.Float64bits(v))
		default:
			b.WriteString(f.Text())
		}
	}
	fmt.Fprintf(&b, " @%d", m.Time)
	return b.String()
}

func newTestInflux(t testing.TB, precision time.Duration) *Influx {
	d, err := NewInflux(precision)
	if err != nil {
		t.Fatal(err)
	}
	d.h.now = fixedNow
	return d
}

var influxSeeds = []string{
	`cpu,cpu=cpu-total,host=h1 usage_idle=97.5,n=3i,u=4u,s="x",b=true 1795552004000000000`,
	`m,b=2,a=1,b=3 f=1,g=2i,f=3u`,
	`m\ x,t\,k=v\=1,t\"q\ =z f\ k="a \"b\" \\c\\" -1`,
	`m,t=a\\ f=1`,
	`m,t=a\\\\ f=1`,
	`m f=1e400`,
	`m f=-.5,g=1.,h=1E-3,i=-0,j=9223372036854775808i,k=18446744073709551616u`,
	`m f=t,g=F,h=True,i=FALSE`,
	`m f="multi
line" 1`,
	"m f=1 1\nn g=2 2\r\n# comment\n\n  o h=3",
	"m f=1\nbad",
	"# only a comment",
	"",
	"   ",
	`0\`,
	"0 0=0\n\\", // Telegraf's parser repeats the metric before
	`m`,
	`m,t=v`,
	`m f=1 9223372036854775807`,
	`#m f=1`,
	"m\tf=1\v2",
	`m f=1,`,
	`m ,f=1`,
	`m f=1  1`,
	"\xff\xfe f=\"\xff\"",
}

// unescapeCases are where Telegraf's unescaping is easy to get wrong
// (TestInfluxUnescape): what each line reads as, Telegraf's way, written
// name|tag=value,...|field=value,... with nothing escaped or quoted.
var unescapeCases = []struct{ line, want string }{
	// \" without a space, comma or '=' in the token: nothing is
	// unescaped, the backslash stays (the ContainsAny guard).
	{`m,t=a\"b f=1 1`, `m|t=a\"b|f=1`},
	{`m a\"b=1 1`, `m||a\"b=1`},
	{`m\"b f=1 1`, `m\"b||f=1`},
	// With a space: \" is ", "\ " a space, and \\ stays two.
	{`m,t=a\"b\ c f=1 1`, `m|t=a"b c|f=1`},
	{`m,t=a\\b\ c f=1 1`, `m|t=a\\b c|f=1`},
	{`m a\\b\ c=1 1`, `m||a\\b c=1`},
	{`m\\x\ y f=1 1`, `m\\x y||f=1`},
	{`m\,x\"y f=1 1`, `m,x\"y||f=1`},
	// A trailing backslash: a pair at the end of a name or key is two
	// backslashes, one in a string value is one; a tag value cannot end
	// in one (it takes the space after it).
	{`m a\ b\\=1 1`, `m||a b\\=1`},
	{`m\ x\\ f=1 1`, `m x\\||f=1`},
	{`m f="a b\\" 1`, `m||f=a b\`},
	{`m f="a\\",g="\"" 1`, `m||f=a\,g="`},
	{`m,t=a\ f=1 1`, ``},
	{`m,t=a\\ f=1 1`, ``},
}

// The cases of unescaping a mutation check found the package tests blind
// to (issue 19, section 7): dropping the guard that unescapes only a
// token holding a space, comma or '=', or unescaping every backslash
// pair. Each line reads as written above, and as Telegraf's parser reads
// it; "" is a line both refuse.
func TestInfluxUnescape(t *testing.T) {
	d := newTestInflux(t, 0)
	for _, c := range unescapeCases {
		sameAsTelegraf(t, d, 0, []byte(c.line))
		var got []string
		err := d.Decode([]byte(c.line), func(m *metricline.Metric) {
			var tags, fields []string
			for _, tg := range m.Tags {
				tags = append(tags, string(tg.Key)+"="+string(tg.Value))
			}
			for i := range m.Fields {
				f := &m.Fields[i]
				v := f.Text()
				if f.Kind == metricline.String {
					v = string(f.Str)
				}
				fields = append(fields, string(f.Key)+"="+v)
			}
			got = append(got, string(m.Name)+"|"+strings.Join(tags, ",")+"|"+strings.Join(fields, ","))
		})
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%s: read as %s, want a refusal", c.line, got)
		case c.want != "" && (err != nil || len(got) != 1 || got[0] != c.want):
			t.Errorf("%s: read as %s (%v), want %s", c.line, got, err, c.want)
		}
	}
}

func TestInfluxLikeTelegraf(t *testing.T) {
	for _, precision := range []time.Duration{0, time.Second, time.Millisecond, time.Hour} {
		d := newTestInflux(t, precision)
		d.LazyNumbers = precision == time.Millisecond
		for _, line := range influxSeeds {
			sameAsTelegraf(t, d, precision, []byte(line))
		}
		data, err := os.ReadFile("../../../testdata/examples/influx.lp")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			sameAsTelegraf(t, d, precision, line)
		}
	}
}

// FuzzInfluxVsTelegraf: the same metrics as Telegraf's parser, and the same
// lines refused at the same byte.
func FuzzInfluxVsTelegraf(f *testing.F) {
	for _, s := range influxSeeds {
		f.Add(s, false)
	}
	for _, c := range unescapeCases {
		f.Add(c.line, false)
	}
	f.Add(`m f=1 1795552004`, true)
	ns, sec, lazy := newTestInflux(f, 0), newTestInflux(f, time.Second), newTestInflux(f, 0)
	lazy.LazyNumbers = true
	f.Fuzz(func(t *testing.T, line string, seconds bool) {
		if seconds {
			sameAsTelegraf(t, sec, time.Second, []byte(line))
		} else {
			sameAsTelegraf(t, ns, 0, []byte(line))
			sameAsTelegraf(t, lazy, 0, []byte(line))
		}
	})
}
