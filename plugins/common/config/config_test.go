package config

import (
	"strings"
	"testing"
	"time"

	tconfig "github.com/influxdata/telegraf/config"
)

func TestSubstituteEnv(t *testing.T) {
	env := map[string]string{"ADDR": "10.0.0.1:6379", "EMPTY": "", "N": "3"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := map[string]string{
		`a = "${ADDR}"`:              `a = "10.0.0.1:6379"`,
		`a = "$ADDR/x"`:              `a = "10.0.0.1:6379/x"`,
		`a = "${UNSET}"`:             `a = "${UNSET}"`,
		`a = "${UNSET:-def}"`:        `a = "def"`,
		`a = "${EMPTY:-def}"`:        `a = "def"`,
		`a = "${EMPTY-def}"`:         `a = ""`,
		`a = "${UNSET-def}"`:         `a = "def"`,
		`n = ${N}`:                   `n = 3`,
		`a = "$$ADDR"`:               `a = "$ADDR"`,
		`a = "${1}"`:                 `a = "${1}"`,
		`  # a = "${UNSET:?boom}"`:   `  # a = "${UNSET:?boom}"`,
		`u = "http://h/?a=1&b=${N}"`: `u = "http://h/?a=1&b=3"`,
	}
	for in, want := range cases {
		got, err := SubstituteEnv(in, lookup)
		if err != nil || got != want {
			t.Errorf("%s: got %q (%v), want %q", in, got, err, want)
		}
	}
	if _, err := SubstituteEnv("\n\na = \"${EMPTY:?needed}\"", lookup); err == nil || !strings.Contains(err.Error(), "line 3: environment variable EMPTY is required: needed") {
		t.Errorf("error %v", err)
	}
}

type plugin struct {
	Address string           `toml:"address"`
	Timeout tconfig.Duration `toml:"timeout"`
	Tags    []string         `toml:"tags"`
}

func TestDecode(t *testing.T) {
	var p plugin
	err := Decode("# comment\n[[outputs.redis]]\n  address = \"x:1\"\n  timeout = \"250ms\"\n  tags = [\"a\"]\n", "outputs", "redis", &p)
	if err != nil || p.Address != "x:1" || time.Duration(p.Timeout) != 250*time.Millisecond || len(p.Tags) != 1 {
		t.Fatalf("%v %+v", err, p)
	}
	for text, want := range map[string]string{
		"[[outputs.redis]]\n  address = 5\n":       `line 2: option "address"`,
		"[[outputs.redis]]\n  tags = \"a\"\n":      `line 2: option "tags"`,
		"[[outputs.redis]]\n  addres = \"x\"\n":    `line 2: unknown option "addres"`,
		"[[outputs.redis]]\n  address = \"x\n":     "line 2",
		"":                                         "no [[outputs.redis]] table",
		"[agent]\n  interval = \"1s\"\n":           "",
		"[[outputs.redis]]\n  [outputs.redis.x]\n": `unknown option "x"`,
	} {
		err := Decode(text, "outputs", "redis", &plugin{})
		if err == nil || (want != "" && !strings.Contains(err.Error(), want)) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want %q", text, err, want)
		}
	}
}

// FuzzDecode: no config text panics the loader, and errors are one line.
func FuzzDecode(f *testing.F) {
	f.Add("[[outputs.redis]]\n  address = \"${ADDR:-127.0.0.1:6379}\"\n  timeout = \"5s\"\n")
	f.Add("[[outputs.redis]]\n  tags = [1, \"a\"]\n")
	f.Add("[[outputs.redis]]\naddress=\"$$\"")
	f.Fuzz(func(t *testing.T, text string) {
		err := Decode(text, "outputs", "redis", &plugin{})
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
	})
}

type modal struct {
	Options
	Mode    string           `toml:"mode"`
	Quote   string           `toml:"quote"`
	Timeout tconfig.Duration `toml:"timeout"`
	Expire  tconfig.Duration `toml:"expire"`
	group
}

type group struct {
	Maxlen int `toml:"maxlen"`
}

// TestUsedOptions: an option counts as used when the file sets it, even to
// its default, or when it differs from the default; nothing else does.
func TestUsedOptions(t *testing.T) {
	def := modal{Mode: "quote", Quote: "usd"}
	p := def
	if err := Decode("[[outputs.redis]]\n  mode = \"hash\"\n  quote = \"usd\"\n", "outputs", "redis", &p); err != nil {
		t.Fatal(err)
	}
	if got := p.Used(&p, &def); strings.Join(got, ",") != "mode,quote" {
		t.Fatalf("used %q", got)
	}
	if !p.IsSet("quote") || p.IsSet("maxlen") {
		t.Fatal("IsSet")
	}
	// Hostile: configured in code, no file: only changed values count.
	q := def
	q.Maxlen = 3
	if got := q.Used(&q, &def); strings.Join(got, ",") != "maxlen" {
		t.Fatalf("used without a file %q", got)
	}
	if got := q.FirstUsed(&q.group, &def.group); got != "maxlen" {
		t.Fatalf("first used in a group %q", got)
	}
}

func TestCheckDurations(t *testing.T) {
	for text, want := range map[string]string{
		"timeout = \"-5s\"": "option timeout: -5s is negative",
		"timeout = \"0s\"":  "option timeout: must be longer than 0s",
		"expire = \"-1ms\"": "option expire: -1ms is negative",
		"expire = \"0s\"":   "",
		"timeout = \"1s\"":  "",
		"mode = \"x\"":      "", // a zero left at its default is the plugin's business
	} {
		var p modal
		if err := Decode("[[outputs.redis]]\n  "+text+"\n", "outputs", "redis", &p); err != nil {
			t.Fatal(err)
		}
		err := p.CheckDurations(&p, "expire")
		if (err == nil) != (want == "") || (err != nil && err.Error() != want) {
			t.Errorf("%s: got %v, want %q", text, err, want)
		}
	}
}

func TestUnitsOfTen(t *testing.T) {
	for _, ok := range []time.Duration{time.Nanosecond, 10 * time.Nanosecond, time.Microsecond, time.Millisecond, 100 * time.Millisecond, time.Second} {
		if err := UnitsOfTen("u", ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []time.Duration{0, -time.Second, 7 * time.Second, 10 * time.Second, time.Hour, 5 * time.Millisecond, 2} {
		if err := UnitsOfTen("u", bad); err == nil || !strings.HasPrefix(err.Error(), "option u: ") {
			t.Errorf("%s accepted (%v)", bad, err)
		}
	}
}

type parser struct {
	TagKeys []string `toml:"tag_keys"`
	Strict  bool     `toml:"strict"`
}

type shadowing struct {
	Options
	TagKeys []string `toml:"tag_keys"`
	parser
}

// TestShadowedOption: an option of an embedded struct shadowed by one of
// the same name higher up is never set by the file (the decoder fills the
// shallower one), so it is not reported as used.
func TestShadowedOption(t *testing.T) {
	var p, def shadowing
	if err := Decode("[[inputs.x]]\n  tag_keys = [\"a\"]\n  strict = false\n", "inputs", "x", &p); err != nil {
		t.Fatal(err)
	}
	if len(p.TagKeys) != 1 || p.parser.TagKeys != nil {
		t.Fatalf("decoded %+v", p)
	}
	if got := p.FirstUsed(&p.parser, &def.parser); got != "strict" {
		t.Fatalf("used in the embedded parser: %q, want strict (set to its default) and not tag_keys", got)
	}
}
