package lineprotocol_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"sync"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/lpcheck"
)

// warnings collects what a Trims says.
type warnings struct {
	mu    sync.Mutex
	lines []string
}

func (w *warnings) warnf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, fmt.Sprintf(format, args...))
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.lines
	w.lines = nil
	return l
}

func metric(name string, tags, fields []string) *metricline.Metric {
	m := &metricline.Metric{Name: []byte(name), Time: 1795552004000000000}
	for i := 0; i < len(tags); i += 2 {
		m.Tags = append(m.Tags, metricline.Tag{Key: []byte(tags[i]), Value: []byte(tags[i+1])})
	}
	for _, k := range fields {
		m.Fields = append(m.Fields, metricline.Field{Key: []byte(k), Kind: metricline.Float, Float: 4})
	}
	return m
}

// Names, tags and field keys that end in a backslash (issue 19, section
// 3), and their neighbours: each written as Telegraf writes it and reads
// it back (tags cut of their trailing backslashes, named once), or
// refused with a line that names what line protocol cannot carry.
func TestBackslashes(t *testing.T) {
	log.SetOutput(io.Discard)
	cases := []struct {
		m    *metricline.Metric
		line string // written, or
		err  string // refused
		warn string
	}{
		{m: metric("disk", []string{"path", `C:\`}, []string{"v"}),
			line: `disk,path=C: v=4 1795552004000000000`,
			warn: `metric "disk": tag "path": value "C:\\" ends in a backslash, which line protocol cannot carry: written as "path"="C:", as Telegraf's ` +
				`serializer does (named once per tag key)`},
		{m: metric(`disk\`, []string{"id", "c"}, []string{"v"}),
			err: `measurement "disk\\" ends in a backslash, which line protocol cannot carry`},
		{m: metric("disk", []string{"id", "b"}, []string{`dir\`}),
			err: `metric "disk": field key "dir\\" ends in a backslash, which line protocol cannot carry`},
		{m: metric("disk", []string{"id", "b"}, []string{`dir\`, "v"}),
			err: `metric "disk": field key "dir\\" ends in a backslash, which line protocol cannot carry`},
		// Edges: a tag made only of backslashes is left out, as Telegraf
		// leaves it out; a key cut to one the metric has is refused.
		{m: metric("disk", []string{"id", `\\`, "x", "y"}, []string{"v"}),
			line: `disk,x=y v=4 1795552004000000000`,
			warn: `metric "disk": tag "id": value "\\\\" ends in a backslash, which line protocol cannot carry: the tag is left out, as Telegraf's ` +
				`serializer does (named once per tag key)`},
		{m: metric("disk", []string{`\`, "v"}, []string{"v"}),
			line: `disk v=4 1795552004000000000`,
			warn: `metric "disk": tag key "\\" ends in a backslash, which line protocol cannot carry: the tag is left out, as Telegraf's serializer does ` +
				`(named once per tag key)`},
		{m: metric("disk", []string{`dir\`, `C:\`}, []string{"v"}),
			line: `disk,dir=C: v=4 1795552004000000000`,
			warn: `metric "disk": tag key "dir\\" ends in a backslash, which line protocol cannot carry: written as "dir"="C:", as Telegraf's serializer ` +
				`does (named once per tag key)`},
		{m: metric("disk", []string{`id\`, "1", "id", "2"}, []string{"v"}),
			err: `metric "disk": tag key "id\\" ends in a backslash, which line protocol cannot carry, and cut it is "id", a tag key the metric has already`},
		{m: metric("disk", []string{`id\`, "1", `id\\`, "2"}, []string{"v"}),
			err: `metric "disk": tag key "id\\" ends in a backslash, which line protocol cannot carry, and cut it is "id", a tag key the metric has already`},
		// A pair of backslashes reads back as it is, in a name or key.
		{m: metric(`disk\\`, []string{"id", "c"}, []string{`dir\\`}),
			line: `disk\\,id=c dir\\=4 1795552004000000000`},
		{m: metric(`a\ b`, nil, []string{"v"}),
			err: `measurement "a\\ b" has a backslash before a space, which line protocol cannot carry`},
		{m: metric("m", nil, []string{`a\=b`}),
			err: `metric "m": field key "a\\=b" has a backslash before "=", which line protocol cannot carry`},
		{m: metric(`a\=b`, []string{`k\=`, `v\,`}, []string{"v"}),
			line: `a\=b,k\\==v\\, v=4 1795552004000000000`},
		{m: metric("m", []string{"t", `a\"b c`}, []string{"v"}),
			err: `metric "m": tag "t": value "a\\\"b c" holds \" and a space, comma or "=", where Telegraf's parser drops the backslash before the quote`},
		{m: metric("m", []string{"t", `a\"b`}, []string{"v"}),
			line: `m,t=a\"b v=4 1795552004000000000`},
		{m: metric("#m", nil, []string{"v"}),
			err: `measurement "#m" starts with "#", which line protocol reads as a comment`},
		{m: metric("m", []string{"t", "a\tb"}, []string{"v"}),
			err: `metric "m": tag "t": value "a\tb" holds a tab, which line protocol cannot carry`},
	}
	for _, c := range cases {
		var w warnings
		e := &lineprotocol.Encoder{Trims: lineprotocol.NewTrims(w.warnf)}
		checkSame(t, e, c.m)
		got, err := e.AppendMetric(nil, c.m)
		var carry *lineprotocol.CarryError
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err || !errors.As(err, &carry)):
			t.Errorf("%v: got %q, %v; want the error %q", c.m, got, err, c.err)
		case c.err == "" && (err != nil || string(got) != c.line):
			t.Errorf("%v: got %q, %v; want %q", c.m, got, err, c.line)
		}
		warned := w.take()
		if c.warn == "" && len(warned) > 0 || c.warn != "" && (len(warned) != 1 || warned[0] != c.warn) {
			t.Errorf("%v: warned %q, want %q", c.m, warned, c.warn)
		}
	}
}

// A trim is named once per tag key, not per metric: a series that always
// has such a tag gives one warning, whatever its values; another key, one
// more. Refused metrics name nothing. Hostile: many encoders share one
// Trims at once, and ever new keys do not grow it without bound.
func TestTrimsNamedOnce(t *testing.T) {
	var w warnings
	trims := lineprotocol.NewTrims(w.warnf)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &lineprotocol.Encoder{Trims: trims}
			for i := 0; i < 500; i++ {
				for _, m := range []*metricline.Metric{
					metric("disk", []string{"path", fmt.Sprintf(`C:\%d\`, i)}, []string{"v"}),
					metric("disk", []string{"dir", `\`}, []string{"v"}),
					metric("disk", []string{"other", `x\`}, []string{`bad\`}),
				} {
					if _, err := e.AppendMetric(nil, m); (err != nil) != (m.Tags[0].Key[0] == 'o') {
						t.Errorf("%v: %v", m, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	warned := w.take()
	if len(warned) != 2 || !strings.Contains(strings.Join(warned, "\n"), `tag "path"`) || !strings.Contains(strings.Join(warned, "\n"), `tag "dir"`) {
		t.Fatalf("want one warning for path and one for dir, got %q", warned)
	}
	// Ever new keys: each is named (once), and the set starts again past
	// its bound rather than growing: a key named before is named again.
	e := &lineprotocol.Encoder{Trims: trims}
	for i := 0; i < 3000; i++ {
		if _, err := e.AppendMetric(nil, metric("m", []string{fmt.Sprintf(`k%d\`, i), "v"}, []string{"v"})); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(w.take()); n != 3000 {
		t.Fatalf("%d warnings for 3000 new keys", n)
	}
	if _, err := e.AppendMetric(nil, metric("disk", []string{"path", `D:\`}, []string{"v"})); err != nil {
		t.Fatal(err)
	}
	if warned := w.take(); len(warned) != 1 {
		t.Fatalf("a key named before the set started again: %q", warned)
	}
}

// An encoder without Trims writes the same bytes and warns nobody.
func TestTrimsOptional(t *testing.T) {
	m := metric("disk", []string{"path", `C:\`}, []string{"v"})
	got, err := (&lineprotocol.Encoder{}).AppendMetric(nil, m)
	if err != nil || string(got) != `disk,path=C: v=4 1795552004000000000` {
		t.Fatalf("%q, %v", got, err)
	}
	if w := lpcheck.Expect(t, m.ToTelegraf()); !w.Write() || w.Line != string(got) {
		t.Fatalf("Telegraf: %+v", w)
	}
}
