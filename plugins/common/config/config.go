// Package config loads an execd plugin's TOML file: one [[<kind>.<name>]]
// table, with environment variables substituted as Telegraf does, and every
// unknown option or wrong type refused with its line number, so a typo never
// silently falls back to a default.
package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads the file at path and decodes its single [[kind.name]] table
// (for example kind "outputs", name "redis") into plugin.
func Load(path, kind, name string, plugin any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	if err := Decode(string(data), kind, name, plugin); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if p, ok := plugin.(hasOptions); ok {
		p.options().path = path
	}
	return nil
}

// Decode is Load on a text already in memory.
func Decode(text, kind, name string, plugin any) error {
	text, err := SubstituteEnv(text, os.LookupEnv)
	if err != nil {
		return err
	}

	var file map[string]map[string][]toml.Primitive
	md, err := toml.Decode(text, &file)
	if err != nil {
		return tomlError(err, "")
	}
	for k, tables := range file {
		for n := range tables {
			if k != kind || n != name {
				return fmt.Errorf("line %d: unexpected table [[%s.%s]]; this program runs only [[%s.%s]]",
					lineOf(text, "[["+k+"."+n+"]]"), k, n, kind, name)
			}
		}
	}
	tables := file[kind][name]
	switch len(tables) {
	case 0:
		return fmt.Errorf("no [[%s.%s]] table", kind, name)
	case 1:
	default:
		return fmt.Errorf("%d [[%s.%s]] tables; run one process per table", len(tables), kind, name)
	}

	if err := md.PrimitiveDecode(tables[0], plugin); err != nil {
		return tomlError(err, kind+"."+name+".")
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		k := undecoded[0]
		option := strings.TrimPrefix(k.String(), kind+"."+name+".")
		return fmt.Errorf("line %d: unknown option %q in [[%s.%s]]", lineOfKey(text, k[len(k)-1]), option, kind, name)
	}
	if p, ok := plugin.(hasOptions); ok {
		var names []string
		for _, k := range md.Keys() {
			if len(k) == 3 && k[0] == kind && k[1] == name {
				names = append(names, k[2])
			}
		}
		p.options().record(plugin, names, text)
	}
	return nil
}

// typeError is BurntSushi's wording for a value of the wrong type.
var typeError = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// tomlError keeps BurntSushi's message (it names the line and the key) on
// one line.
func tomlError(err error, table string) error {
	var perr toml.ParseError
	if errors.As(err, &perr) {
		// The message may quote the offending text, newline and all.
		msg := oneLine(perr.Message)
		if perr.LastKey != "" {
			msg = fmt.Sprintf("option %q: %s", strings.TrimPrefix(perr.LastKey, table), msg)
		}
		return fmt.Errorf("line %d: %s", perr.Position.Line, msg)
	}
	if m := typeError.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("line %s: option %q: %s", m[1], strings.TrimPrefix(m[2], table), oneLine(m[3]))
	}
	return errors.New(oneLine(err.Error()))
}

// oneLine keeps an error on one log line: Telegraf reads each stderr line
// on its own.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(s)
}

func lineOf(text, needle string) int {
	if i := strings.Index(text, needle); i >= 0 {
		return strings.Count(text[:i], "\n") + 1
	}
	return 0
}

func lineOfKey(text, key string) int {
	re := regexp.MustCompile(`(?m)^[ \t]*"?` + regexp.QuoteMeta(key) + `"?[ \t]*=`)
	if loc := re.FindStringIndex(text); loc != nil {
		return strings.Count(text[:loc[0]], "\n") + 1
	}
	return 0
}

// optionName finds the option a plugin's Init error starts with:
// "option NAME: ...".
var optionName = regexp.MustCompile(`^option ([A-Za-z0-9_]+):`)

// WithLine gives an error found by a plugin's Init the file and the line
// of the option it names, as Load does for the errors it finds itself, so
// every config error points at the option and its line. An option left at
// its default has no line.
func WithLine(path string, err error) error {
	if path == "" {
		return fmt.Errorf("config: %w", err)
	}
	text, rerr := os.ReadFile(path)
	m := optionName.FindStringSubmatch(err.Error())
	if m == nil || rerr != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if line := lineOfKey(string(text), m[1]); line > 0 {
		return fmt.Errorf("config %s: line %d: %w", path, line, err)
	}
	return fmt.Errorf("config %s: %w", path, err)
}
