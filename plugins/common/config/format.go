package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/parsers"
	"github.com/influxdata/telegraf/plugins/serializers"
	"github.com/influxdata/toml/ast"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
)

// Format is the data format of a plugin's table: one of Telegraf's
// serializers (an output's data_format) or parsers (an input's), with the
// options of it that the table sets. Telegraf's loader decodes a plugin's
// table into the plugin and into the format it makes from its registry
// alike ([[outputs.file]]'s serializer, [[inputs.exec]]'s parser); Load
// does the same for a plugin that embeds a SerializerFormat or a
// ParserFormat: each option goes to the plugin, to the format or to both,
// and one that neither reads is refused, naming the format it belongs to
// when it is another's. The format keeps its options, to make as many of
// it as the plugin needs (one per goroutine), as Telegraf's
// SetSerializerFunc and SetParserFunc do.
//
// Which formats exist is what the program registers: our execd programs
// import every serializer and parser of Telegraf (plugins/serializers/all,
// plugins/parsers/all), bin/telegraf those of its build tags.
type Format struct {
	// table holds the options the format reads, as the file gives them;
	// nil when the plugin was not loaded from a file.
	table *ast.Table
	set   []string // their names, in the file's order
	// name is the format the table was decoded for: data_format resolved
	// (influx_upstream for data_format = "influx" with influx_parser_type
	// = "upstream").
	name string
}

// SerializerFormat is the Format of an output: data_format names one of
// Telegraf's serializers ("influx" when unset, as in Telegraf).
type SerializerFormat struct{ format Format }

// ParserFormat is the Format of an input: data_format names one of
// Telegraf's parsers ("influx" when unset, as in Telegraf), and
// influx_parser_type = "upstream" makes data_format = "influx" Telegraf's
// upstream line protocol parser.
type ParserFormat struct {
	format Format
	// ParserType is influx_parser_type as the file gives it.
	parserType string
}

type formatKind int

const (
	serializerKind formatKind = iota + 1
	parserKind
)

// formatHolder lets Load find the format of a plugin, and parserHolder
// that of an input.
type (
	formatHolder interface{ dataFormat() *Format }
	parserHolder interface{ parserFormat() *ParserFormat }
)

func (s *SerializerFormat) dataFormat() *Format     { return &s.format }
func (p *ParserFormat) dataFormat() *Format         { return &p.format }
func (p *ParserFormat) parserFormat() *ParserFormat { return p }

// FormatOptions names the options of the data format that the file sets,
// in its order (none when the plugin was not loaded from a file).
func (s *SerializerFormat) FormatOptions() []string { return slices.Clone(s.format.set) }

// FormatOptions names the options of the data format that the file sets,
// in its order, influx_parser_type included (none when the plugin was not
// loaded from a file).
func (p *ParserFormat) FormatOptions() []string { return slices.Clone(p.format.set) }

// SerializerNames are the serializers this program has, sorted.
func SerializerNames() []string { return sortedNames(serializers.Serializers) }

// ParserNames are the parsers this program has, sorted.
func ParserNames() []string { return sortedNames(parsers.Parsers) }

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// DataFormatName is data_format as Telegraf's loader reads it, for an
// output or an input: "influx" when unset.
func DataFormatName(dataFormat string) string {
	if dataFormat == "" {
		return "influx"
	}
	return dataFormat
}

// ParserName is the parser data_format names, as Telegraf's loader reads it
// for an input: "influx" when unset, and Telegraf's upstream line protocol
// parser for "influx" with influx_parser_type = "upstream".
func (p *ParserFormat) ParserName(dataFormat string) string {
	if dataFormat == "" {
		dataFormat = "influx"
	}
	if dataFormat == "influx" && p.parserType == "upstream" {
		return "influx_upstream"
	}
	return dataFormat
}

// NewSerializer makes the serializer dataFormat names with the file's
// options (Telegraf's defaults without a file), its Log set to log, and
// initialised: what Telegraf's loader hands SetSerializer.
func (s *SerializerFormat) NewSerializer(dataFormat string, log telegraf.Logger) (telegraf.Serializer, error) {
	name := DataFormatName(dataFormat)
	creator, ok := serializers.Serializers[name]
	if !ok {
		return nil, fmt.Errorf("option data_format: %q is not a serializer of this program (want one of %q)", name, SerializerNames())
	}
	made := creator()
	if err := s.format.decodeInto(name, made); err != nil {
		return nil, err
	}
	if err := initFormat(made, name, log); err != nil {
		return nil, err
	}
	return made, nil
}

// NewParser makes the parser dataFormat names (see ParserName) with the
// file's options (Telegraf's defaults without a file), metricName as the
// name of metrics the data does not name, its Log set to log, and
// initialised: what Telegraf's loader hands SetParser.
func (p *ParserFormat) NewParser(dataFormat, metricName string, log telegraf.Logger) (telegraf.Parser, error) {
	name := p.ParserName(dataFormat)
	creator, ok := parsers.Parsers[name]
	if !ok {
		return nil, fmt.Errorf("option data_format: %q is not a parser of this program (want one of %q)", name, ParserNames())
	}
	made := creator(metricName)
	if err := p.format.decodeInto(name, made); err != nil {
		return nil, err
	}
	if err := initFormat(made, name, log); err != nil {
		return nil, err
	}
	return made, nil
}

func initFormat(made any, name string, log telegraf.Logger) error {
	if log == nil {
		// Some log their errors (the template serializer): never to nil.
		log = logger.New("")
	}
	models.SetLoggerOnPlugin(made, log)
	if i, ok := made.(telegraf.Initializer); ok {
		if err := i.Init(); err != nil {
			return fmt.Errorf("data_format %q: %s", name, oneLine(err.Error()))
		}
	}
	return nil
}

// decodeInto decodes the file's options of format name into made.
func (f *Format) decodeInto(name string, made any) error {
	if f.table == nil {
		return nil
	}
	if name != f.name {
		// The plugin's data_format is decoded from the same table: only
		// code that changed it after Load gets here.
		return fmt.Errorf("option data_format: %q, but the file's options are those of %q", name, f.name)
	}
	if err := decoder.UnmarshalTable(f.table, made); err != nil {
		return fmt.Errorf("data_format %q: %s", name, oneLine(err.Error()))
	}
	return nil
}

// Unwrap returns the serializer or parser Telegraf's loader made, out of
// the models.RunningSerializer or models.RunningParser it hands a plugin.
func Unwrap(v any) any {
	switch r := v.(type) {
	case *models.RunningSerializer:
		return r.Serializer
	case *models.RunningParser:
		return r.Parser
	}
	return v
}

// ChangedOptions names the options of format, a serializer or parser as
// Telegraf's loader made it (see Unwrap), whose values differ from those
// of fresh, a new one of the same format initialised the same way: what a
// plugin built into Telegraf can tell of the options its table gave the
// format, to refuse them where it would not use the format. Both are
// pointers to the same struct type; otherwise nothing is named.
func ChangedOptions(format, fresh any) []string {
	if reflect.TypeOf(format) != reflect.TypeOf(fresh) || reflect.TypeOf(format).Kind() != reflect.Pointer ||
		reflect.TypeOf(format).Elem().Kind() != reflect.Struct {
		return nil
	}
	return (&Options{}).Used(format, fresh)
}

// FreshSerializer is a new serializer of format name with Telegraf's
// defaults, initialised, to compare with one Telegraf's loader made (see
// ChangedOptions).
func FreshSerializer(name string) (any, error) {
	return (&SerializerFormat{}).NewSerializer(name, nil)
}

// FreshParser is a new parser of format name with Telegraf's defaults,
// initialised, to compare with one Telegraf's loader made (see
// ChangedOptions).
func FreshParser(name, metricName string) (any, error) {
	return (&ParserFormat{}).NewParser(name, metricName, nil)
}

// errFormatUnknown marks a data_format that names no format of the
// program.
var errFormatUnknown = errors.New("unknown data format")

// formatTarget returns a new struct of the table's data format, into
// which Load decodes the options beside the plugin, and the name of the
// format.
func formatTarget(table *ast.Table, kind formatKind, p *ParserFormat) (any, string, error) {
	var dataFormat string
	if kv, ok := table.Fields["data_format"].(*ast.KeyValue); ok {
		s, ok := kv.Value.(*ast.String)
		if !ok {
			return nil, "", fmt.Errorf("line %d: option %q: want a string, the name of a data format", kv.Line, "data_format")
		}
		dataFormat = s.Value
	}
	switch kind {
	case serializerKind:
		name := DataFormatName(dataFormat)
		creator, ok := serializers.Serializers[name]
		if !ok {
			return nil, name, fmt.Errorf("%w: %q is not a serializer of this program (want one of %q)", errFormatUnknown, name, SerializerNames())
		}
		return creator(), name, nil
	default:
		if kv, ok := table.Fields["influx_parser_type"].(*ast.KeyValue); ok {
			s, ok := kv.Value.(*ast.String)
			switch {
			case !ok || (s.Value != "internal" && s.Value != "upstream"):
				return nil, "", fmt.Errorf(`line %d: option "influx_parser_type": want "internal" or "upstream"`, kv.Line)
			case dataFormat != "" && dataFormat != "influx":
				return nil, "", fmt.Errorf(`line %d: option "influx_parser_type": only read with data_format = "influx" (it is %q)`, kv.Line, dataFormat)
			}
			p.parserType = s.Value
		}
		name := p.ParserName(dataFormat)
		creator, ok := parsers.Parsers[name]
		if !ok {
			return nil, name, fmt.Errorf("%w: %q is not a parser of this program (want one of %q)", errFormatUnknown, name, ParserNames())
		}
		return creator(""), name, nil
	}
}

// formatsReading names the formats of kind, other than skip, that read the
// option key (the field of the table): to tell an option of another
// format from a typo.
func formatsReading(kind formatKind, skip, key string, field any) []string {
	var names []string
	try := func(name string, made any) {
		if name == skip {
			return
		}
		one := &ast.Table{Fields: map[string]any{key: field}}
		if err := decoder.UnmarshalTable(one, made); !unknown(err) {
			names = append(names, name)
		}
	}
	if kind == serializerKind {
		for _, name := range SerializerNames() {
			try(name, serializers.Serializers[name]())
		}
	} else {
		for _, name := range ParserNames() {
			try(name, parsers.Parsers[name](""))
		}
	}
	return names
}

// quoted lists names as "a", "b" or "c".
func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
