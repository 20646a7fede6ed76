// Package keytemplate renders a Redis key (or channel) from a metric with a
// Go text/template such as `telegraf:{{.Name}}:{{.Tag "host"}}`.
//
// Values that come from the metric are escaped before they are inserted, so
// a tag value cannot steer a key into another key space: ':' (the usual
// separator), '{' and '}' (Redis Cluster hash tags), glob characters
// ('*', '?', '[', ']'), '%', '\', whitespace and control characters become
// %XX. What the template itself says is written as it stands.
//
// Templates made only of text, {{.Name}}, {{.Tag "k"}} and {{.Field "k"}}
// are rendered without text/template and without allocating; anything else
// (time formatting, conditions, functions) goes through text/template.
package keytemplate

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Template is a parsed key template.
type Template struct {
	source string
	parts  []part // the fast path; nil when tmpl is used
	tmpl   *template.Template
	buf    bytes.Buffer
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

// Parse compiles s.
func Parse(s string) (*Template, error) {
	t, err := template.New("key").Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("key template %q: %w", s, err)
	}
	k := &Template{source: s}
	if parts, ok := simple(t.Tree.Root); ok {
		k.parts = parts
	} else {
		k.tmpl = t
	}
	return k, nil
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

func tagValue(m *metricline.Metric, key string) []byte {
	for _, t := range m.Tags {
		if string(t.Key) == key {
			return t.Value
		}
	}
	return nil
}

func fieldOf(m *metricline.Metric, key string) *metricline.Field {
	for i := range m.Fields {
		if string(m.Fields[i].Key) == key {
			return &m.Fields[i]
		}
	}
	return nil
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
			if intDigits, fracZeros, ok := metricline.ShortestDecimal(f.Str); ok && intDigits <= 20 && fracZeros <= 5 {
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

// Data is what a text/template key sees as ".".
type Data struct{ m *metricline.Metric }

// Name is the metric name, escaped.
func (d Data) Name() string { return string(Escape(nil, d.m.Name)) }

// Tag is the tag's value, escaped; "" when the metric lacks the tag.
func (d Data) Tag(key string) string { return string(Escape(nil, tagValue(d.m, key))) }

// Field is the field's value as text, escaped; "" when missing.
func (d Data) Field(key string) string {
	if f := fieldOf(d.m, key); f != nil {
		return string(escapeField(nil, f))
	}
	return ""
}

// Time is the metric's time, for {{.Time.Format "2006-01-02"}} or
// {{.Time.Unix}}.
func (d Data) Time() time.Time { return time.Unix(0, d.m.Time).UTC() }

// Tags lists the tag keys, for templates that range over them.
func (d Data) Tags() []string {
	keys := make([]string, len(d.m.Tags))
	for i, t := range d.m.Tags {
		keys[i] = string(t.Key)
	}
	return keys
}
