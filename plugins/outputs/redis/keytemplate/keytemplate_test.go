package keytemplate

import (
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
	k, _ := Parse("telegraf:metrics")
	if !k.Constant() {
		t.Fatal("constant template not seen as constant")
	}
	if _, err := Parse("{{.Name"); err == nil {
		t.Fatal("bad template accepted")
	}
	k, _ = Parse(`{{.Nope}}`)
	if _, err := k.Append(nil, metric()); err == nil {
		t.Fatal("unknown method accepted")
	}
}

func BenchmarkFastPath(b *testing.B) {
	k, _ := Parse(`telegraf:{{.Name}}:{{.Tag "host"}}`)
	m := metric()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf, _ = k.Append(buf[:0], m)
	}
}
