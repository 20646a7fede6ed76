package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	tconfig "github.com/influxdata/telegraf/config"
)

// Options remembers which options the config file set. A plugin embeds it
// (Load fills it in) so that Init can refuse an option that the chosen
// mode would never read: silently ignoring it would hide a mistake, such
// as the wrong mode. An option counts as used when the file set it, even to
// its default value, or when its value differs from the default (plugins
// configured in code, as in tests, have no file).
type Options struct {
	set    map[string]bool  // option names the file set
	fields map[uintptr]bool // the struct fields they were decoded into
	lines  map[string]int   // and the line of each
	path   string
}

// options lets Load find the embedded Options of any plugin.
func (o *Options) options() *Options { return o }

type hasOptions interface{ options() *Options }

// IsSet reports whether the config file set the option.
func (o *Options) IsSet(name string) bool { return o != nil && o.set[name] }

// Where names the file and line that set the option, for errors found
// after start ("config /etc/x.conf line 7: "), or "" when it is unknown.
func (o *Options) Where(name string) string {
	if o == nil || o.path == "" {
		return ""
	}
	if line := o.lines[name]; line > 0 {
		return fmt.Sprintf("config %s line %d: ", o.path, line)
	}
	return ""
}

// record notes the options the file set (with their lines), and the
// fields of plugin (a pointer to a struct) they went into. (Telegraf's
// decoder refuses an option that two embedded structs both name, so each
// name has one field.)
func (o *Options) record(plugin any, lines map[string]int) {
	o.set, o.fields, o.lines = make(map[string]bool), make(map[uintptr]bool), lines
	for n := range lines {
		o.set[n] = true
	}
	o.walkValues(reflect.ValueOf(plugin).Elem(), func(name string, fv reflect.Value) {
		if o.set[name] {
			o.fields[fv.Addr().Pointer()] = true
		}
	})
}

// Used returns the TOML names of the options of got that are used: set
// in the file, or different in got from want. got and want are pointers to
// the same struct type (the plugin, or one of its groups of options), want
// holding the defaults. Embedded structs without a name are searched too.
func (o *Options) Used(got, want any) []string {
	var names []string
	o.walk(reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem(), func(name string, set, changed bool) {
		if changed || set {
			names = append(names, name)
		}
	})
	return names
}

// FirstUsed is the first of Used that is not in skip, or "".
func (o *Options) FirstUsed(got, want any, skip ...string) string {
	for _, name := range o.Used(got, want) {
		if !slices.Contains(skip, name) {
			return name
		}
	}
	return ""
}

func (o *Options) walk(g, w reflect.Value, fn func(name string, set, changed bool)) {
	t := g.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		switch {
		case name == "-":
		case name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct:
			o.walk(g.Field(i), w.Field(i), fn)
		case name == "" || !f.IsExported():
		default:
			set := o.fields[g.Field(i).Addr().Pointer()]
			fn(name, set, !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()))
		}
	}
}

// CheckDurations refuses a negative duration in any option of plugin (a
// pointer to a struct), and a zero one unless the option is in zeroMeans:
// "0s" is never a timeout or an interval, and taking it for the default
// would apply something the file did not say. A zero left by a file that
// does not set the option is the plugin's business (its default).
func (o *Options) CheckDurations(plugin any, zeroMeans ...string) error {
	var err error
	v := reflect.ValueOf(plugin).Elem()
	o.walkValues(v, func(name string, fv reflect.Value) {
		d, ok := fv.Interface().(tconfig.Duration)
		if !ok || err != nil {
			return
		}
		switch {
		case d < 0:
			err = fmt.Errorf("option %s: %s is negative", name, time.Duration(d))
		case d == 0 && o.fields[fv.Addr().Pointer()] && !slices.Contains(zeroMeans, name):
			err = fmt.Errorf("option %s: must be longer than 0s", name)
		}
	})
	return err
}

func (o *Options) walkValues(v reflect.Value, fn func(name string, fv reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		switch {
		case name == "-":
		case name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct:
			o.walkValues(v.Field(i), fn)
		case name == "" || !f.IsExported():
		default:
			fn(name, v.Field(i))
		}
	}
}

// UnitsOfTen checks a unit of timestamps: a power of ten from 1ns to 1s,
// the units Telegraf's serializers and parsers can mean. Telegraf's JSON
// serializer rounds any other value down without a word; we refuse it,
// so the document never changes meaning behind the user's back.
func UnitsOfTen(name string, d time.Duration) error {
	for u := time.Nanosecond; u <= time.Second; u *= 10 {
		if d == u {
			return nil
		}
	}
	return fmt.Errorf("option %s: %s is not a power of ten from 1ns to 1s (1ns, 10ns, ... 1ms, 10ms, 100ms, 1s)", name, d)
}
