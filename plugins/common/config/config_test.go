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
