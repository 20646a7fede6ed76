package redis_consumer

import "github.com/influxdata/telegraf/config"

// The options each mode reads, grouped so that Init can refuse an option
// set for another mode: silently ignoring it would hide a mistake such as a
// wrong mode. They are embedded in RedisConsumer, so TOML sees them flat;
// Init asks config.Options which of them are used (set in the file, or
// changed from the default).

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
	// EntryIDTag, when set, tags every metric with the ID of the stream
	// entry it came from, for a downstream that deduplicates.
	EntryIDTag string `toml:"entry_id_tag"`
}

// keysOptions are read in keys mode only.
type keysOptions struct {
	KeyTag        string `toml:"key_tag"`
	ListMaxLength int    `toml:"list_max_length"`
}

// builtInOptions are read only built in.
type builtInOptions struct {
	// MaxUndeliveredMessages bounds the stream entries handed to Telegraf
	// and not yet delivered by its outputs, as kafka_consumer's option of
	// the same name does for messages.
	MaxUndeliveredMessages int `toml:"max_undelivered_messages"`
}

// DefaultMaxUndelivered is kafka_consumer's default.
const DefaultMaxUndelivered = 1000
