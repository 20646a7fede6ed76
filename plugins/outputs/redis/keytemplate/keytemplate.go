// Package keytemplate renders a Redis key (or channel) from a metric with a
// Go text/template such as `telegraf:{{.Name}}:{{.Tag "host"}}`.
//
// Every string that comes from the metric (its name, tag keys and values,
// field keys and string values, whichever way the template reaches them:
// .Tag, .Tags, .Field, .Fields, .String) is escaped before it is inserted,
// so the metric cannot steer a key into another key space: ':' (the usual
// separator), '{' and '}' (Redis Cluster hash tags), glob characters
// ('*', '?', '[', ']'), '%', '\', whitespace and control characters become
// %XX. What the template itself says is written as it stands.
//
// What a template sees as "." has the methods of Telegraf's
// telegraf.TemplateMetric (Name, Tag, Tags, Field, Fields, Time, String,
// with .Tags and .Fields maps), so templates written for Telegraf's
// outputs (mqtt topics, say) work here.
//
// Templates made only of text, {{.Name}}, {{.Tag "k"}} and {{.Field "k"}}
// are rendered without text/template and without allocating; anything else
// (time formatting, conditions, ranges) goes through text/template, and
// both give the same text.
package keytemplate

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Template is a parsed key template.
type Template struct {
	source string
	parts  []part // the fast path; nil when tmpl is used
	tmpl   *template.Template
	buf    bytes.Buffer
}

// Clone returns a template rendering as k does, with a buffer of its own:
// one Template must not render on two goroutines at once, its clones may
// (a parsed text/template executes in parallel safely).
func (k *Template) Clone() *Template {
	return &Template{source: k.source, parts: k.parts, tmpl: k.tmpl}
}

type partKind uint8

const (
	text partKind = iota
	name
	tag
	field
)

type part struct {
	kind partKind
	arg  string // the text, or the tag or field key
}

// Parse compiles s, and refuses a template that could never render: one
// that calls what "." does not have ({{.Nope}}), anywhere in it, or that
// fails on a sample metric.
func Parse(s string) (*Template, error) {
	t, err := template.New("key").Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("key template %q: %w", s, err)
	}
	k := &Template{source: s}
	if parts, ok := simple(t.Tree.Root); ok {
		k.parts = parts
		return k, nil
	}
	k.tmpl = t
	if err := checkMethods(t.Tree.Root, true); err != nil {
		return nil, fmt.Errorf("key template %q: %w", s, err)
	}
	if err := k.tmpl.Execute(io.Discard, Data{m: sample}); err != nil && !dataDependent(err) {
		return nil, fmt.Errorf("key template %q fails on a sample metric (name %q, no tags, no fields): %w", s, sample.Name, err)
	}
	return k, nil
}

// sample is the metric a template is tried on at start.
var sample = &metricline.Metric{Name: []byte("sample"), Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}

// dataDependent tells the failures a template may have on the sample and
// not on the metrics it is written for: a map entry the sample lacks
// ({{.Tags.host}}), a comparison with a field it lacks ({{if gt (.Field
// "x") 5.0}}). On a real metric they refuse that metric, with its E! line.
func dataDependent(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "map has no entry for key") ||
		strings.Contains(msg, "incompatible types for comparison") ||
		strings.Contains(msg, "invalid type for comparison")
}

// methods are what "." has: Telegraf's TemplateMetric.
var methods = map[string]bool{"Name": true, "Tag": true, "Tags": true, "Field": true, "Fields": true, "Time": true, "String": true}

// checkMethods finds {{.Nope}} wherever it is, also in a branch the sample
// does not take. dotIsMetric is false inside range and with, where "."
// is something else; "$" is always the metric.
func checkMethods(n parse.Node, dotIsMetric bool) error {
	check := func(ident []string) error {
		if len(ident) > 0 && !methods[ident[0]] {
			return fmt.Errorf("%q is not something a metric has (it has .Name, .Tag, .Tags, .Field, .Fields, .Time and .String)", "."+ident[0])
		}
		return nil
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkMethods(c, dotIsMetric); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkMethods(n.Pipe, dotIsMetric)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := checkMethods(c, dotIsMetric); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkMethods(a, dotIsMetric); err != nil {
				return err
			}
		}
	case *parse.FieldNode:
		if dotIsMetric {
			return check(n.Ident)
		}
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			return check(n.Ident[1:])
		}
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, dotIsMetric, dotIsMetric)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode, dotIsMetric, false)
	case *parse.RangeNode:
		return checkBranch(&n.BranchNode, dotIsMetric, false)
	}
	return nil
}

func checkBranch(b *parse.BranchNode, dotIsMetric, inList bool) error {
	if err := checkMethods(b.Pipe, dotIsMetric); err != nil {
		return err
	}
	if err := checkMethods(b.List, inList); err != nil {
		return err
	}
	return checkMethods(b.ElseList, dotIsMetric)
}

// Constant reports whether the template has no actions: every metric gets
// the same key.
func (k *Template) Constant() bool {
	if k.parts == nil {
		return false
	}
	for _, p := range k.parts {
		if p.kind != text {
			return false
		}
	}
	return true
}

func (k *Template) String() string { return k.source }

// simple turns a tree of text and {{.Name}}, {{.Tag "x"}}, {{.Field "x"}}
// actions into parts.
func simple(root *parse.ListNode) ([]part, bool) {
	var parts []part
	for _, n := range root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			parts = append(parts, part{kind: text, arg: string(n.Text)})
		case *parse.ActionNode:
			if len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 {
				return nil, false
			}
			args := n.Pipe.Cmds[0].Args
			f, ok := args[0].(*parse.FieldNode)
			if !ok || len(f.Ident) != 1 {
				return nil, false
			}
			switch {
			case f.Ident[0] == "Name" && len(args) == 1:
				parts = append(parts, part{kind: name})
			case (f.Ident[0] == "Tag" || f.Ident[0] == "Field") && len(args) == 2:
				s, ok := args[1].(*parse.StringNode)
				if !ok {
					return nil, false
				}
				kind := tag
				if f.Ident[0] == "Field" {
					kind = field
				}
				parts = append(parts, part{kind: kind, arg: s.Text})
			default:
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return parts, true
}

// Append renders the key for m onto dst.
func (k *Template) Append(dst []byte, m *metricline.Metric) ([]byte, error) {
	if k.parts == nil {
		k.buf.Reset()
		if err := k.tmpl.Execute(&k.buf, Data{m: m}); err != nil {
			return dst, fmt.Errorf("key template %q: %w", k.source, err)
		}
		return append(dst, k.buf.Bytes()...), nil
	}
	for _, p := range k.parts {
		switch p.kind {
		case text:
			dst = append(dst, p.arg...)
		case name:
			dst = Escape(dst, m.Name)
		case tag:
			dst = Escape(dst, tagValue(m, p.arg))
		case field:
			f := fieldOf(m, p.arg)
			if f != nil {
				dst = escapeField(dst, f)
			}
		}
	}
	return dst, nil
}

// tagValue finds a tag by its key, or by its key as escaped: a template
// ranging over .Tags gets escaped keys, and {{$.Tag $k}} must find them.
func tagValue(m *metricline.Metric, key string) []byte {
	for _, t := range m.Tags {
		if string(t.Key) == key {
			return t.Value
		}
	}
	for _, t := range m.Tags {
		if escapedIs(t.Key, key) {
			return t.Value
		}
	}
	return nil
}

// fieldOf finds a field the same way.
func fieldOf(m *metricline.Metric, key string) *metricline.Field {
	for i := range m.Fields {
		if string(m.Fields[i].Key) == key {
			return &m.Fields[i]
		}
	}
	for i := range m.Fields {
		if escapedIs(m.Fields[i].Key, key) {
			return &m.Fields[i]
		}
	}
	return nil
}

// escapedIs reports whether Escape(raw) == esc, without allocating.
func escapedIs(raw []byte, esc string) bool {
	const hex = "0123456789ABCDEF"
	j := 0
	for _, c := range raw {
		if needsEscape(c) {
			if j+3 > len(esc) || esc[j] != '%' || esc[j+1] != hex[c>>4] || esc[j+2] != hex[c&0xf] {
				return false
			}
			j += 3
			continue
		}
		if j >= len(esc) || esc[j] != c {
			return false
		}
		j++
	}
	return j == len(esc)
}

func escapeField(dst []byte, f *metricline.Field) []byte {
	var tmp [32]byte
	switch f.Kind {
	case metricline.String:
		return Escape(dst, f.Str)
	default:
		return Escape(dst, AppendValue(tmp[:0], f))
	}
}

// AppendValue writes a field value as text: floats as the shortest plain
// decimal (an exponent only below 1e-6 or from 1e21 on, as JSON encoders
// do), integers in decimal, booleans as true/false, strings as they are.
func AppendValue(dst []byte, f *metricline.Field) []byte {
	switch f.Kind {
	case metricline.Float, metricline.Decimal:
		// Text already in the form formatting would give (shortest, no
		// exponent, from 1e-6 to below 1e21) is copied as it is.
		if f.Kind == metricline.Decimal {
			if intDigits, fracZeros, ok := lineprotocol.ShortestDecimal(f.Str); ok && intDigits <= 20 && fracZeros <= 5 {
				return append(dst, f.Str...)
			}
		}
		v, _ := f.Number()
		if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
			return strconv.AppendFloat(dst, v, 'e', -1, 64)
		}
		return strconv.AppendFloat(dst, v, 'f', -1, 64)
	case metricline.Int:
		return strconv.AppendInt(dst, f.Int, 10)
	case metricline.Uint:
		return strconv.AppendUint(dst, f.Uint, 10)
	case metricline.Bool:
		return strconv.AppendBool(dst, f.Bool)
	case metricline.String:
		return append(dst, f.Str...)
	}
	return dst
}

// Escape appends s with every byte that could change the key's meaning
// written as %XX.
func Escape(dst, s []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range s {
		if needsEscape(c) {
			dst = append(dst, '%', hex[c>>4], hex[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func needsEscape(c byte) bool {
	switch c {
	case ':', '{', '}', '*', '?', '[', ']', '%', '\\', ' ', 0x7f:
		return true
	}
	return c < 0x20
}

// Data is what a text/template key sees as ".": the methods of Telegraf's
// telegraf.TemplateMetric, every string from the metric escaped.
type Data struct{ m *metricline.Metric }

// Name is the metric name, escaped.
func (d Data) Name() string { return string(Escape(nil, d.m.Name)) }

// Tag is the tag's value, escaped; "" when the metric lacks the tag. The
// key may be given as it is or escaped (as .Tags gives it).
func (d Data) Tag(key string) string { return string(Escape(nil, tagValue(d.m, key))) }

// Tags maps every tag key to its value, both escaped, as Telegraf's
// Tags(): {{range $k, $v := .Tags}} or {{.Tags.host}}.
func (d Data) Tags() map[string]string {
	tags := make(map[string]string, len(d.m.Tags))
	for _, t := range d.m.Tags {
		tags[string(Escape(nil, t.Key))] = string(Escape(nil, t.Value))
	}
	return tags
}

// Float is a float field as a template gets it: a float64 for
// comparisons ({{if gt (.Field "x") 5.0}}) and printf, printed as the
// fast path writes it (a plain decimal, not fmt's %v exponents).
type Float float64

func (f Float) String() string {
	return string(AppendValue(nil, &metricline.Field{Kind: metricline.Float, Float: float64(f)}))
}

// Field is the field's value, typed as Telegraf's Field() gives it (Float
// for floats, int64, uint64, bool, or the string escaped); "" when the
// metric lacks the field, so it prints as the fast path does. The key may
// be given escaped.
func (d Data) Field(key string) interface{} {
	if f := fieldOf(d.m, key); f != nil {
		return value(f)
	}
	return ""
}

// Fields maps every field key (escaped) to its value, as Field gives it.
func (d Data) Fields() map[string]interface{} {
	fields := make(map[string]interface{}, len(d.m.Fields))
	for i := range d.m.Fields {
		f := &d.m.Fields[i]
		fields[string(Escape(nil, f.Key))] = value(f)
	}
	return fields
}

func value(f *metricline.Field) interface{} {
	switch f.Kind {
	case metricline.Float, metricline.Decimal:
		v, _ := f.Number()
		return Float(v)
	case metricline.Int:
		return f.Int
	case metricline.Uint:
		return f.Uint
	case metricline.Bool:
		return f.Bool
	}
	return string(Escape(nil, f.Str))
}

// Time is the metric's time, for {{.Time.Format "2006-01-02"}} or
// {{.Time.Unix}}.
func (d Data) Time() time.Time { return time.Unix(0, d.m.Time).UTC() }

// String is Telegraf's String() of the metric, escaped as a whole.
func (d Data) String() string {
	raw := make(map[string]string, len(d.m.Tags))
	for _, t := range d.m.Tags {
		raw[string(t.Key)] = string(t.Value)
	}
	fields := make(map[string]interface{}, len(d.m.Fields))
	for i := range d.m.Fields {
		fields[string(d.m.Fields[i].Key)] = d.m.Fields[i].Value()
	}
	return string(Escape(nil, []byte(fmt.Sprintf("%s %v %v %d", d.m.Name, raw, fields, d.m.Time))))
}
