package config

import (
	"strings"
	"testing"
	"time"

	tconfig "github.com/influxdata/telegraf/config"
)

type plugin struct {
	Address string           `toml:"address"`
	Timeout tconfig.Duration `toml:"timeout"`
	Tags    []string         `toml:"tags"`
	N       int              `toml:"n"`
}

// TestSubstituteEnvAsTelegraf: the rules of Telegraf 1.37's default
// (strict) handling, the same cases its own tests and docs give.
func TestSubstituteEnvAsTelegraf(t *testing.T) {
	t.Setenv("TR_ADDR", "10.0.0.1:6379")
	t.Setenv("TR_EMPTY", "")
	cases := map[string]string{
		`"${TR_ADDR}"`:                     "10.0.0.1:6379",
		`"$TR_ADDR/x"`:                     "10.0.0.1:6379/x",
		`"${TR_UNSET}"`:                    "${TR_UNSET}",
		`"${TR_UNSET:-def}"`:               "def",
		`"${TR_EMPTY:-def}"`:               "def",
		`"${TR_EMPTY-def}"`:                "",
		`"${TR_UNSET-def}"`:                "def",
		`"$$TR_ADDR"`:                      "$TR_ADDR",
		`"${1}"`:                           "${1}",
		`'${TR_ADDR}'`:                     "10.0.0.1:6379", // literal strings too, as in Telegraf
		`"http://h/?a=1&b=${TR_ADDR}"`:     "http://h/?a=1&b=10.0.0.1:6379",
		`"${TR_UNSET:-a,b=c?d}"`:           "a,b=c?d",
		`"x" # ${TR_UNSET:?not evaluated}`: "x",
	}
	for value, want := range cases {
		var p plugin
		if err := Decode("[[outputs.redis]]\n  address = "+value+"\n", "outputs", "redis", &p); err != nil || p.Address != want {
			t.Errorf("%s: got %q (%v), want %q", value, p.Address, err, want)
		}
	}
}

// TestSubstitutedValuesCannotBreakTheTOML: quotes, backslashes, "#" and
// newlines in a value end up in the option as they are, and never make or
// end a string, a comment or a table.
func TestSubstitutedValuesCannotBreakTheTOML(t *testing.T) {
	hostile := []string{
		`pa"ss\word`,
		`x" ]] [[outputs.other]] y = "`,
		"two\nlines\n[[outputs.redis]]",
		`# not a comment`,
		`\u0041\\`,
		`${TR_OTHER}`, // substituted once, not again
	}
	t.Setenv("TR_OTHER", "other")
	for _, v := range hostile {
		t.Setenv("TR_VALUE", v)
		var p plugin
		text := "[[outputs.redis]]\n  address = \"${TR_VALUE}\" # a comment\n  tags = ['${TR_VALUE}', \"${TR_VALUE}\"]\n"
		if err := Decode(text, "outputs", "redis", &p); err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		if p.Address != v || len(p.Tags) != 2 || p.Tags[0] != v || p.Tags[1] != v {
			t.Errorf("%q: address %q, tags %q", v, p.Address, p.Tags)
		}
	}
}

func TestCommentsAreStrippedFirst(t *testing.T) {
	text := `# A required variable in a comment is not evaluated: ${TR_UNSET:?boom}
[[outputs.redis]]
  ## address = "${TR_UNSET:?boom}"
  address = "a#b" # ${TR_UNSET:?boom}
  tags = [ # ${TR_UNSET:?boom}
    "x", # "${TR_UNSET:?boom}"
  ]
`
	var p plugin
	if err := Decode(text, "outputs", "redis", &p); err != nil || p.Address != "a#b" || len(p.Tags) != 1 {
		t.Fatalf("%v %+v", err, p)
	}
}

func TestSubstitutionErrorsNameTheLine(t *testing.T) {
	t.Setenv("TR_EMPTY", "")
	for text, want := range map[string]string{
		"[[outputs.redis]]\n\n  address = \"${TR_EMPTY:?needed}\"\n":      "line 3: ",
		"[[outputs.redis]]\n  tags = [\"a\",\n \"${TR_UNSET?set it}\"]\n": "line 3: ",
		"[[outputs.redis]]\n  n = ${TR_N}\n":                              "line 2: ", // outside a string, as in Telegraf
	} {
		err := Decode(text, "outputs", "redis", &plugin{})
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want it to start with %q", text, err, want)
		}
	}
	err := Decode("[[outputs.redis]]\n  address = \"${TR_EMPTY:?needed}\"\n", "outputs", "redis", &plugin{})
	if err == nil || !strings.Contains(err.Error(), "TR_EMPTY") || !strings.Contains(err.Error(), "needed") {
		t.Errorf("error %v", err)
	}
}

func TestDecode(t *testing.T) {
	var p plugin
	err := Decode("# comment\n[[outputs.redis]]\n  address = \"x:1\"\n  timeout = \"250ms\"\n  tags = [\"a\"]\n", "outputs", "redis", &p)
	if err != nil || p.Address != "x:1" || time.Duration(p.Timeout) != 250*time.Millisecond || len(p.Tags) != 1 {
		t.Fatalf("%v %+v", err, p)
	}
	for text, want := range map[string]string{
		"[[outputs.redis]]\n  address = 5\n":                  `line 2: option "address"`,
		"[[outputs.redis]]\n  tags = \"a\"\n":                 `line 2: option "tags"`,
		"[[outputs.redis]]\n  timeout = \"5 parsecs\"\n":      `line 2: option "timeout"`,
		"[[outputs.redis]]\n  addres = \"x\"\n":               `line 2: unknown option "addres"`,
		"[[outputs.redis]]\n  address = \"x\n":                "line 2",
		"":                                                    "no [[outputs.redis]] table",
		"[agent]\n  interval = \"1s\"\n":                      "line 1: unexpected table [agent]",
		"[[outputs.redis]]\n[[outputs.redis]]\n":              "2 [[outputs.redis]] tables",
		"[[inputs.redis]]\n":                                  "unexpected table [[inputs.redis]]",
		"[[outputs.redis]]\n  [outputs.redis.x]\n":            `line 2: unknown option "x"`,
		"[[outputs.redis]]\n  n = 1\n  addres = 1\n  n = 2\n": "line 4",
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
	f.Add("[[outputs.redis]]\naddress='''a#${X:?b}\n'''# c\n")
	f.Add("[[outputs.redis]]\n  data_format = \"graphite\"\n  carbon2_format = 1\n")
	f.Add("[[inputs.redis]]\n  data_format = \"json_v2\"\n  [[inputs.redis.json_v2]]\n    x = 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		err := Decode(text, "outputs", "redis", &plugin{})
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
		// With a data format's options beside the plugin's (format.go).
		for _, kind := range []string{"outputs", "inputs"} {
			var v any = &output{}
			if kind == "inputs" {
				v = &input{}
			}
			if err := Decode(text, kind, "redis", v); err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
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

type embedding struct {
	Options
	parser
}

// TestUsedOptionsOfAnEmbeddedStruct: an option set in the file counts as
// used even at its default value; FirstUsed can pass over an option that
// another check owns.
func TestUsedOptionsOfAnEmbeddedStruct(t *testing.T) {
	var p, def embedding
	if err := Decode("[[inputs.x]]\n  tag_keys = [\"a\"]\n  strict = false\n", "inputs", "x", &p); err != nil {
		t.Fatal(err)
	}
	if got := p.Used(&p.parser, &def.parser); len(got) != 2 || got[0] != "tag_keys" || got[1] != "strict" {
		t.Fatalf("used: %q, want tag_keys and strict (set to its default)", got)
	}
	if got := p.FirstUsed(&p.parser, &def.parser, "tag_keys"); got != "strict" {
		t.Fatalf("first used but tag_keys: %q", got)
	}
	if got := p.Where("strict"); got != "" {
		t.Fatalf("Where without a path: %q", got)
	}
}
