// Package config loads an execd plugin's TOML file: one [[<kind>.<name>]]
// table, read by Telegraf's own rules (comments stripped, then the file
// parsed with Telegraf's TOML package and environment variables substituted
// in string values with the template package Telegraf uses, as Telegraf
// does with --strict-env-handling, its default from v1.38), then decoded
// as Telegraf decodes a plugin's table), so a file means the same in
// redis-output's -config as in telegraf.conf. Every unknown option or
// wrong type is refused with its line number, so a typo never silently
// falls back to a default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	itoml "github.com/influxdata/toml"
	"github.com/influxdata/toml/ast"
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
	data, err := removeComments(bytes.TrimPrefix([]byte(text), []byte("\xef\xbb\xbf")))
	if err != nil {
		return errors.New(oneLine(err.Error()))
	}
	root, err := itoml.Parse(data)
	if err != nil {
		return parseError(data, err)
	}
	if err := substituteEnv(root, environ()); err != nil {
		var se *stringError
		if errors.As(err, &se) {
			return fmt.Errorf("line %d: %s", lineAt(data, se.s.Pos()), oneLine(se.err.Error()))
		}
		return errors.New(oneLine(err.Error()))
	}

	var table *ast.Table
	for _, k := range sortedKeys(root.Fields) {
		kindTable, ok := root.Fields[k].(*ast.Table)
		if !ok {
			return fmt.Errorf("line %d: unexpected option %q outside [[%s.%s]]", lineOfField(root.Fields[k]), k, kind, name)
		}
		for _, n := range sortedKeys(kindTable.Fields) {
			tables, ok := kindTable.Fields[n].([]*ast.Table)
			if !ok {
				return fmt.Errorf("line %d: unexpected table [%s]; this program runs only [[%s.%s]]", kindTable.Line, k, kind, name)
			}
			if k != kind || n != name {
				return fmt.Errorf("line %d: unexpected table [[%s.%s]]; this program runs only [[%s.%s]]",
					lineOfField(tables), k, n, kind, name)
			}
			if len(tables) > 1 {
				return fmt.Errorf("%d [[%s.%s]] tables; run one process per table", len(tables), kind, name)
			}
			table = tables[0]
		}
	}
	if table == nil {
		return fmt.Errorf("no [[%s.%s]] table", kind, name)
	}
	return decodeTable(table, kind+"."+name, plugin)
}

// errUnknown marks an option the plugin has no field for.
var errUnknown = errors.New("unknown option")

// unknownOptionError is errUnknown for the option key, which may be one of a
// sub-table's.
type unknownOptionError struct{ key string }

func (e *unknownOptionError) Error() string { return fmt.Sprintf("unknown option %q", e.key) }
func (*unknownOptionError) Unwrap() error   { return errUnknown }

// decoder decodes as Telegraf's config does (its toml.Config), except that
// an unknown option is an error rather than a warning after the fact.
var decoder = &itoml.Config{
	NormFieldName: itoml.DefaultConfig.NormFieldName,
	FieldToKey:    itoml.DefaultConfig.FieldToKey,
	MissingField:  func(_ reflect.Type, key string) error { return &unknownOptionError{key} },
}

// decodeTable decodes the options one by one, in the order of the file,
// so that an error names its option and the first one is reported. A
// plugin with a data format (see Format) has each option decoded into the
// format too, as Telegraf's loader does: an option either reads is taken.
func decodeTable(table *ast.Table, plugin string, v any) error {
	keys := sortedKeys(table.Fields)
	sort.SliceStable(keys, func(i, j int) bool {
		return lineOfField(table.Fields[keys[i]]) < lineOfField(table.Fields[keys[j]])
	})
	var (
		format     *Format
		kind       formatKind
		target     any
		formatName string
	)
	if h, ok := v.(formatHolder); ok {
		format, kind = h.dataFormat(), serializerKind
		var pf *ParserFormat
		if ph, ok := v.(parserHolder); ok {
			pf, kind = ph.parserFormat(), parserKind
		}
		var err error
		if target, formatName, err = formatTarget(table, kind, pf); err != nil {
			if errors.Is(err, errFormatUnknown) {
				return fmt.Errorf("line %d: option %q: %s", lineOfField(table.Fields["data_format"]), "data_format",
					strings.TrimPrefix(err.Error(), errFormatUnknown.Error()+": "))
			}
			return err
		}
		*format = Format{name: formatName, table: &ast.Table{Name: table.Name, Fields: make(map[string]any), Line: table.Line}}
	}
	for _, key := range keys {
		field := table.Fields[key]
		one := &ast.Table{Name: table.Name, Fields: map[string]any{key: field}, Line: table.Line}
		if format != nil && kind == parserKind && key == "influx_parser_type" {
			// Telegraf's loader reads it to choose the parser (formatTarget
			// has checked it); no struct has it.
			format.set = append(format.set, key)
			continue
		}
		err := decoder.UnmarshalTable(one, v)
		if format != nil {
			ferr := decoder.UnmarshalTable(one, target)
			switch {
			case ferr == nil:
				format.table.Fields[key] = field
				format.set = append(format.set, key)
				if unknown(err) {
					err = nil // the format's alone
				}
			case !unknown(ferr):
				err = ferr // the format's, of the wrong type
			case unknown(err):
				if others := formatsReading(kind, formatName, key, field); len(others) > 0 {
					return fmt.Errorf("line %d: option %q: an option of data_format %s, not of %q", lineOfField(field), key, quoted(others), formatName)
				}
				var uo *unknownOptionError
				if errors.As(unwrapLine(ferr), &uo) && uo.key != key {
					// The format reads the table key, but not one of its
					// options (an option of the plugin written after the
					// table, say, which TOML puts in it).
					line := lineOfField(field)
					var le *itoml.LineError
					if errors.As(ferr, &le) {
						line = le.Line
					}
					return fmt.Errorf("line %d: unknown option %q in %s of data_format %q (options after a [[...%s]] table belong to it)",
						line, uo.key, key, formatName, key)
				}
			}
		}
		if err == nil {
			continue
		}
		line := lineOfField(field)
		var le *itoml.LineError
		if errors.As(err, &le) {
			line, err = le.Line, le.Err
		}
		if unknown(err) {
			return fmt.Errorf("line %d: unknown option %q in [[%s]]", line, key, plugin)
		}
		return fmt.Errorf("line %d: option %q: %s", line, key, oneLine(err.Error()))
	}
	if p, ok := v.(hasOptions); ok {
		lines := make(map[string]int, len(keys))
		for _, key := range keys {
			lines[key] = lineOfField(table.Fields[key])
		}
		p.options().record(v, lines)
	}
	return nil
}

// unknown tells whether err says that the struct has no option key: none
// at all, or a field that the file cannot set (`toml:"-"`, such as a
// parser's MetricName).
func unknown(err error) bool {
	err = unwrapLine(err)
	return err != nil && (errors.Is(err, errUnknown) || strings.Contains(err.Error(), "cannot be set through TOML"))
}

// unwrapLine is the error a *itoml.LineError holds, or err.
func unwrapLine(err error) error {
	var le *itoml.LineError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// parseError reports a TOML syntax error. Telegraf's parser only says
// "invalid TOML syntax", at the line where it gave up; BurntSushi's says
// what and where, so its message is used when it also refuses the text.
func parseError(data []byte, err error) error {
	var v map[string]any
	if _, berr := toml.Decode(string(data), &v); berr != nil {
		var perr toml.ParseError
		if errors.As(berr, &perr) {
			return fmt.Errorf("line %d: %s", perr.Position.Line, oneLine(perr.Message))
		}
	}
	return errors.New(oneLine(err.Error()))
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lineOfField is the line an option or table starts on.
func lineOfField(f any) int {
	switch v := f.(type) {
	case *ast.KeyValue:
		return v.Line
	case *ast.Table:
		return v.Line
	case []*ast.Table:
		if len(v) > 0 {
			return v[0].Line
		}
	}
	return 0
}

// lineAt is the line of the rune at pos (the parser counts runes).
func lineAt(data []byte, pos int) int {
	runes := []rune(string(data))
	if pos > len(runes) {
		pos = len(runes)
	}
	line := 1
	for _, r := range runes[:pos] {
		if r == '\n' {
			line++
		}
	}
	return line
}

// oneLine keeps an error on one log line: Telegraf reads each stderr line
// on its own.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(s)
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
