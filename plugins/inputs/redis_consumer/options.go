package redis_consumer

import (
	"reflect"
	"strings"

	"github.com/influxdata/telegraf/config"
)

// The options each mode reads, grouped so that Init can refuse an option
// set for another mode: silently ignoring it would hide a mistake such as a
// wrong mode. They are embedded in RedisConsumer, so TOML sees them flat.

// quoteOptions are read in quote mode only.
type quoteOptions struct {
	Subscribe      bool            `toml:"subscribe"`
	Channel        string          `toml:"channel"`
	TimestampUnits config.Duration `toml:"timestamp_units"`
}

// subscribeOptions are read in subscribe mode only.
type subscribeOptions struct {
	Channels   []string `toml:"channels"`
	Patterns   []string `toml:"patterns"`
	ChannelTag string   `toml:"channel_tag"`
}

// streamOptions are read in stream mode only.
type streamOptions struct {
	Group        string          `toml:"group"`
	Consumer     string          `toml:"consumer"`
	StartID      string          `toml:"start_id"`
	ClaimIdle    config.Duration `toml:"claim_idle"`
	BatchSize    int             `toml:"batch_size"`
	Block        config.Duration `toml:"block"`
	OnParseError string          `toml:"on_parse_error"`
	PayloadField string          `toml:"payload_field"`
}

// keysOptions are read in keys mode only.
type keysOptions struct {
	KeyTag        string `toml:"key_tag"`
	ListMaxLength int    `toml:"list_max_length"`
}

// changedOption returns the TOML name of the first option of the struct
// that got differs from in want (both pointers to the same struct type), or
// "" when none does. Embedded structs without a name (the parsers) are
// searched too. Pointers, because the influx parser holds a mutex.
func changedOption(got, want any) string {
	return changedField(reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem())
}

func changedField(g, w reflect.Value) string {
	t := g.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		switch {
		case name == "-":
		case name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct:
			if n := changedField(g.Field(i), w.Field(i)); n != "" {
				return n
			}
		case name == "" || !f.IsExported():
		case !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()):
			return name
		}
	}
	return ""
}
