package keytemplate

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

func metric() *metricline.Metric {
	return &metricline.Metric{
		Name: []byte("cpu"),
		Tags: []metricline.Tag{{Key: []byte("host"), Value: []byte("web-01")}, {Key: []byte("evil"), Value: []byte("x:{admin}* ?[]%\\\n")}},
		Fields: []metricline.Field{
			{Key: []byte("usage"), Kind: metricline.Float, Float: 1.5},
			{Key: []byte("tiny"), Kind: metricline.Float, Float: 1.2e-9},
			{Key: []byte("n"), Kind: metricline.Int, Int: -3},
			{Key: []byte("s"), Kind: metricline.String, Str: []byte("a:b")},
		},
		Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano(),
	}
}

func render(t *testing.T, src string) (string, bool) {
	t.Helper()
	k, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	out, err := k.Append(nil, metric())
	if err != nil {
		t.Fatal(err)
	}
	return string(out), k.parts != nil
}

func TestRenderAndEscape(t *testing.T) {
	cases := []struct {
		src, want string
		fast      bool
	}{
		{`telegraf:{{.Name}}:{{.Tag "host"}}`, "telegraf:cpu:web-01", true},
		{`t:{{.Tag "evil"}}`, `t:x%3A%7Badmin%7D%2A%20%3F%5B%5D%25%5C%0A`, true},
		{`t:{{.Tag "missing"}}:end`, "t::end", true},
		{`{{.Name}}:{{.Field "usage"}}:{{.Field "n"}}:{{.Field "s"}}:{{.Field "tiny"}}`, "cpu:1.5:-3:a%3Ab:1.2e-09", true},
		{`{rates}:{{.Name}}`, "{rates}:cpu", true},
		{`constant`, "constant", true},
		{`m:{{.Name}}:{{.Time.Format "2006-01-02"}}`, "m:cpu:2026-11-25", false},
		{`m:{{.Tag "evil" | printf "%s"}}`, `m:x%3A%7Badmin%7D%2A%20%3F%5B%5D%25%5C%0A`, false},
		{`{{if eq (.Tag "host") "web-01"}}front{{else}}back{{end}}:{{.Name}}`, "front:cpu", false},
	}
	for _, c := range cases {
		got, fast := render(t, c.src)
		if got != c.want || fast != c.fast {
			t.Errorf("%s: got %q (fast %v), want %q (fast %v)", c.src, got, fast, c.want, c.fast)
		}
	}
}

func TestConstantAndErrors(t *testing.T) {
	k, err := Parse("telegraf:metrics")
	if err != nil {
		t.Fatal(err)
	}
	if !k.Constant() {
		t.Fatal("constant template not seen as constant")
	}
	if _, err := Parse("{{.Name"); err == nil {
		t.Fatal("bad template accepted")
	}
}

// TestTemplatesThatCannotRenderAreRefusedAtStart: {{.Nope}} used to be
// accepted and then refuse every metric, one E! line each.
func TestTemplatesThatCannotRenderAreRefusedAtStart(t *testing.T) {
	for src, want := range map[string]string{
		`{{.Nope}}`:                                 `".Nope" is not something a metric has`,
		`k:{{if .Tags}}{{.Nope}}{{end}}`:            `".Nope" is not something a metric has`, // a branch the sample does not take
		`k:{{range .Tags}}{{$.Nope}}{{end}}`:        `".Nope" is not something a metric has`,
		`k:{{with .Name}}x{{else}}{{.Nope}}{{end}}`: `".Nope" is not something a metric has`,
		`k:{{.Time.Format}}`:                        "fails on a sample metric",
		`k:{{.Name 1}}`:                             "fails on a sample metric",
		`k:{{.Time.Nope}}`:                          "fails on a sample metric",
		`k:{{template "other"}}`:                    "fails on a sample metric",
	} {
		if _, err := Parse(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
	// A template accepted at start that fails on one metric refuses that
	// metric alone.
	k, err := Parse(`k:{{if gt (.Field "x") 5.0}}hot{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Append(nil, metric()); err == nil || !strings.Contains(err.Error(), "incompatible types for comparison") {
		t.Fatalf("a metric without x: %v", err)
	}
	// Hostile: templates that depend on the metric's data are accepted.
	for _, src := range []string{
		`k:{{.Tags.host}}`,
		`k:{{with .Field "x"}}{{if gt . 5.0}}hot{{else}}cold{{end}}{{end}}`,
		`k:{{if gt (.Field "x") 5.0}}hot{{end}}`,            // fails, with its E! line, only on metrics without x
		`k:{{range $k, $v := .Tags}}{{$v.Anything}}{{end}}`, // "." is a string there: not the metric
		`k:{{.Time.Format "2006"}}:{{.String}}`,
	} {
		if _, err := Parse(src); err != nil {
			t.Errorf("%s refused: %v", src, err)
		}
	}
}

// TestEveryStringFromTheMetricIsEscaped: names, tag keys and values, field
// keys and string values, reached in every way a template can reach them.
// Before, {{range .Tags}} handed out raw tag keys (issue 11).
func TestEveryStringFromTheMetricIsEscaped(t *testing.T) {
	const evil = "}:{admin:secret*\r\n"
	m := &metricline.Metric{
		Name: []byte("n:{x}"),
		Tags: []metricline.Tag{{Key: []byte(evil), Value: []byte("v*1")}, {Key: []byte("host"), Value: []byte(evil)}},
		Fields: []metricline.Field{
			{Key: []byte(evil), Kind: metricline.String, Str: []byte("s:{}")},
			{Key: []byte("usage"), Kind: metricline.Float, Float: 2.5},
		},
		Time: 1795552004000000000,
	}
	const esc = "%7D%3A%7Badmin%3Asecret%2A%0D%0A"
	for src, want := range map[string]string{
		// The template: .Tags is a map (as in Telegraf), so range
		// gives the values; nothing raw gets through.
		`tk:{{range .Tags}}{{.}}={{$.Tag .}}{{end}}`:                "tk:v%2A1=" + esc + "=v%2A1", // sorted by escaped key: the evil one, then host
		`tk:{{range $k, $v := .Tags}}{{$k}}={{$v}};{{end}}`:         "tk:" + esc + "=v%2A1;host=" + esc + ";",
		`tk:{{range $k, $v := .Tags}}{{$k}}={{$.Tag $k}};{{end}}`:   "tk:" + esc + "=v%2A1;host=" + esc + ";",
		`f:{{range $k, $v := .Fields}}{{$k}}={{$v}};{{end}}`:        "f:" + esc + "=s%3A%7B%7D;usage=2.5;",
		`f:{{.Field "}:{admin:secret*\r\n" | print}}`:               "f:s%3A%7B%7D",
		`f:{{.Field "` + esc + `" | print}}`:                        "f:s%3A%7B%7D", // by the escaped key
		`f:{{.Fields.usage}}:{{index .Fields "usage"}}`:             "f:2.5:2.5",
		`n:{{.Name | print}}:{{.Tags.host}}:{{index .Tags "host"}}`: "n:n%3A%7Bx%7D:" + esc + ":" + esc,
		`s:{{.String}}`: "s:" + string(Escape(nil,
			[]byte("n:{x} map[host:"+evil+" "+evil+":v*1] map[usage:2.5 "+evil+":s:{}] 1795552004000000000"))),
		`n:{{.Name}}:{{.Tag "host"}}`: "n:n%3A%7Bx%7D:" + esc, // fast path
	} {
		k, err := Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := k.Append(nil, m)
		if err != nil || string(got) != want {
			t.Errorf("%s:\n got  %q (%v)\n want %q", src, got, err, want)
		}
		for _, c := range []string{"{", "}", "*", "\r", "\n"} {
			if strings.Contains(string(got[2:]), c) && !strings.Contains(src, c) {
				t.Errorf("%s: %q reached the key raw: %q", src, c, got)
			}
		}
	}
}

// TestSlowPathMatchesTheFastPath: the same value prints the same whether
// the template goes through text/template or not, and field values keep
// their types for comparisons, as Telegraf's TemplateMetric gives them.
func TestSlowPathMatchesTheFastPath(t *testing.T) {
	m := &metricline.Metric{
		Name: []byte("m"),
		Fields: []metricline.Field{
			{Key: []byte("f"), Kind: metricline.Float, Float: 123456789},
			{Key: []byte("tiny"), Kind: metricline.Float, Float: 1.2e-9},
			{Key: []byte("big"), Kind: metricline.Float, Float: 1e21},
			{Key: []byte("i"), Kind: metricline.Int, Int: -3},
			{Key: []byte("u"), Kind: metricline.Uint, Uint: 18446744073709551615},
			{Key: []byte("b"), Kind: metricline.Bool, Bool: true},
			{Key: []byte("s"), Kind: metricline.String, Str: []byte("a b")},
		},
	}
	for _, f := range []string{"f", "tiny", "big", "i", "u", "b", "s", "missing"} {
		fast, err := Parse(`{{.Field "` + f + `"}}`)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := Parse(`{{.Field "` + f + `" | print}}`)
		if err != nil {
			t.Fatal(err)
		}
		a, err1 := fast.Append(nil, m)
		b, err2 := slow.Append(nil, m)
		if fast.parts == nil || slow.parts != nil || err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: fast %q (%v), slow %q (%v)", f, a, err1, b, err2)
		}
	}
	for src, want := range map[string]string{
		`{{if gt (.Field "f") 100.0}}big{{end}}`:    "big",
		`{{if lt (.Field "i") 0}}neg{{end}}`:        "neg",
		`{{if .Field "b"}}yes{{end}}`:               "yes",
		`{{printf "%.1f" (.Field "f")}}`:            "123456789.0",
		`{{if eq (.Field "s") "a%20b"}}same{{end}}`: "same",
		`{{.Time.Year}}`:                            "1970",
	} {
		k, err := Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got, err := k.Append(nil, m); string(got) != want {
			t.Errorf("%s: %q (%v), want %q", src, got, err, want)
		}
	}
}

func BenchmarkFastPath(b *testing.B) {
	k, err := Parse(`telegraf:{{.Name}}:{{.Tag "host"}}`)
	if err != nil {
		b.Fatal(err)
	}
	m := metric()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf, err = k.Append(buf[:0], m)
		if err != nil {
			b.Fatal(err)
		}
	}
}
