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

// record notes the options the file set, and the fields of plugin (a
// pointer to a struct) they went into. An embedded struct may have an
// option of the same name as a shallower one (the JSON parser's tag_keys
// under the input's own): the decoder fills the shallowest, and only that
// one is set.
func (o *Options) record(plugin any, names []string, text string) {
	o.set, o.fields, o.lines = map[string]bool{}, map[uintptr]bool{}, map[string]int{}
	for _, n := range names {
		o.set[n] = true
		o.lines[n] = lineOfKey(text, n)
	}
	claimed := map[string]bool{}
	level := []reflect.Value{reflect.ValueOf(plugin).Elem()}
	for len(level) > 0 {
		var next []reflect.Value
		found := map[string]bool{}
		for _, v := range level {
			t := v.Type()
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
				switch {
				case name == "-":
				case name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct:
					next = append(next, v.Field(i))
				case name == "" || !f.IsExported() || claimed[name]:
				default:
					found[name] = true
					if o.set[name] {
						o.fields[v.Field(i).Addr().Pointer()] = true
					}
				}
			}
		}
		for n := range found {
			claimed[n] = true
		}
		level = next
	}
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

// FirstUsed is the first of Used, or "".
func (o *Options) FirstUsed(got, want any) string {
	if names := o.Used(got, want); len(names) > 0 {
		return names[0]
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
