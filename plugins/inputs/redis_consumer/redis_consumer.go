// Package redis_consumer is the [[inputs.redis_consumer]] execd plugin: run
// by Telegraf's [[inputs.execd]], it reads from Redis (the quote document
// of redis-output, Pub/Sub channels, a stream through a consumer group, or
// the keys matching a pattern) and writes line protocol on stdout.
package redis_consumer

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/filter"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

//go:embed sample.conf
var sampleConfig string

// clientName is shown by CLIENT LIST.
const clientName = "telegraf-redis-input"

// Modes are the values of the mode option.
var Modes = []string{"quote", "subscribe", "stream", "keys"}

// RedisConsumer holds the plugin's options, named as in sample.conf.
type RedisConsumer struct {
	redisconn.Config
	// Options tells the options the config file set, so that those the
	// mode does not read are refused.
	pluginconfig.Options

	Mode        string `toml:"mode"`
	Key         string `toml:"key"`
	Measurement string `toml:"measurement"`
	// TagKeys picks the tags among stream entry and hash fields; with
	// data_format = "json" it is the JSON parser's option too (decoded
	// into both, as Telegraf's loader does).
	TagKeys []string `toml:"tag_keys"`

	quoteOptions
	subscribeOptions
	streamOptions
	keysOptions
	parserOptions
	builtInOptions

	Log telegraf.Logger `toml:"-"`

	inProcess

	parser    *payloadParser
	tagFilter filter.Filter
}

// SampleConfig returns the documented default configuration.
func (*RedisConsumer) SampleConfig() string { return sampleConfig }

// DefaultQuoteKey is where redis-output keeps the quote by default.
const DefaultQuoteKey = "coingecko:rate:usd"

// New returns the plugin with its defaults.
func New() *RedisConsumer {
	p := &RedisConsumer{Mode: "quote"}
	p.TimestampUnits = config.Duration(time.Second)
	p.ListMaxLength = 1000
	p.Group = "telegraf"
	p.StartID = "0"
	p.ClaimIdle = config.Duration(30 * time.Second)
	p.BatchSize = 1000
	p.Block = config.Duration(time.Second)
	p.OnParseError = "keep"
	p.DataFormat = "influx"
	return p
}

// streamID is what start_id accepts besides "$": a stream entry ID.
var streamID = regexp.MustCompile(`^[0-9]+(-[0-9]+)?$`)

// Init checks the options and prepares the mode.
func (p *RedisConsumer) Init() error {
	// claim_idle = "0s" turns claiming off; no other duration may be 0.
	if err := p.CheckDurations(p, "claim_idle"); err != nil {
		return err
	}
	p.Config.File = &p.Options
	if err := p.Config.Init(); err != nil {
		return err
	}
	if !slices.Contains(Modes, p.Mode) {
		return fmt.Errorf("option mode: %q is not supported (want one of %q)", p.Mode, Modes)
	}
	if err := p.refuseOtherModes(); err != nil {
		return err
	}
	if err := p.checkBuiltInOptions(); err != nil {
		return err
	}
	if p.Measurement == "" {
		p.Measurement = "redis_consumer"
		if p.Mode == "quote" {
			p.Measurement = "currency_rate"
		}
	}
	if err := lineprotocol.CheckMeasurement(p.Measurement); err != nil {
		return fmt.Errorf("option measurement: %w", err)
	}
	var err error
	if p.tagFilter, err = filter.Compile(p.TagKeys); err != nil {
		return fmt.Errorf("option tag_keys: %w", err)
	}

	switch p.Mode {
	case "quote":
		return p.initQuote()
	case "subscribe":
		return p.initSubscribe()
	case "stream":
		return p.initStream()
	default: // keys
		return p.initKeys()
	}
}

// refuseOtherModes refuses options that the chosen mode does not read.
func (p *RedisConsumer) refuseOtherModes() error {
	def := New()
	groups := []struct {
		mode, option string
	}{
		{"quote", p.FirstUsed(&p.quoteOptions, &def.quoteOptions)},
		{"subscribe", p.FirstUsed(&p.subscribeOptions, &def.subscribeOptions)},
		{"stream", p.FirstUsed(&p.streamOptions, &def.streamOptions)},
		{"keys", p.FirstUsed(&p.keysOptions, &def.keysOptions)},
	}
	for _, g := range groups {
		if g.mode != p.Mode && g.option != "" {
			return fmt.Errorf("option %s: only read in %s mode (mode is %q)", g.option, g.mode, p.Mode)
		}
	}
	parsed := p.Mode == "subscribe" || p.Mode == "keys" || (p.Mode == "stream" && p.PayloadField != "")
	if !parsed {
		// tag_keys is checked on its own, below.
		if name := p.FirstUsed(&p.parserOptions, &def.parserOptions); name != "" {
			return fmt.Errorf("option %s: not read in %s mode%s", name, p.Mode, parsedHint(p.Mode))
		}
		if err := p.parserOptions.refuseUnusedFormat(p.Mode, parsedHint(p.Mode)); err != nil {
			return err
		}
	}
	// tag_keys picks tags among stream entry and hash fields, and is the
	// JSON parser's option.
	fields := p.Mode == "keys" || (p.Mode == "stream" && p.PayloadField == "")
	if len(p.TagKeys) > 0 && !fields && !(parsed && p.DataFormat == "json") {
		hint := ""
		if parsed {
			hint = ` unless data_format = "json"`
		}
		return fmt.Errorf("option tag_keys: not read in %s mode%s", p.Mode, hint)
	}
	return nil
}

func parsedHint(mode string) string {
	if mode == "stream" {
		return " without payload_field"
	}
	return ""
}

func (p *RedisConsumer) initQuote() error {
	if p.Key == "" {
		p.Key = DefaultQuoteKey
	}
	if p.Subscribe && p.Channel == "" {
		return errors.New("option channel: required with subscribe = true")
	}
	if !p.Subscribe && p.Channel != "" {
		return errors.New("option channel: only read with subscribe = true")
	}
	return pluginconfig.UnitsOfTen("timestamp_units", time.Duration(p.TimestampUnits))
}

func (p *RedisConsumer) initSubscribe() error {
	if p.Key != "" {
		return errors.New("option key: not read in subscribe mode (use channels or patterns)")
	}
	if len(p.Channels) == 0 && len(p.Patterns) == 0 {
		return errors.New("option channels: subscribe mode needs channels or patterns")
	}
	for _, c := range append(slices.Clone(p.Channels), p.Patterns...) {
		if c == "" {
			return errors.New("option channels: empty channel name or pattern")
		}
	}
	return p.initPayload()
}

func (p *RedisConsumer) initStream() error {
	if p.Key == "" {
		return errors.New("option key: required in stream mode (the stream's key)")
	}
	if p.Group == "" {
		return errors.New("option group: must not be empty")
	}
	if p.Consumer == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		p.Consumer = host + "-" + strconv.Itoa(os.Getpid())
	}
	if p.StartID != "$" && !streamID.MatchString(p.StartID) {
		return fmt.Errorf(`option start_id: %q is not "$" or a stream ID such as "0" or "1795552004000-0"`, p.StartID)
	}
	if p.ClaimIdle < 0 {
		return errors.New("option claim_idle: must not be negative (0 turns claiming off)")
	}
	if p.BatchSize <= 0 {
		return errors.New("option batch_size: must be positive")
	}
	// BLOCK 0 would wait forever, and the process could not stop.
	if p.Block < config.Duration(time.Millisecond) {
		return errors.New("option block: must be at least 1ms")
	}
	// The blocked read's reply is bounded by timeout, like every reply.
	if p.Block >= p.Timeout {
		return fmt.Errorf("option block: %s must be shorter than timeout (%s)", time.Duration(p.Block), time.Duration(p.Timeout))
	}
	if p.OnParseError != "keep" && p.OnParseError != "ack" {
		return fmt.Errorf(`option on_parse_error: %q is not "keep" or "ack"`, p.OnParseError)
	}
	if p.PayloadField == "" {
		return nil
	}
	return p.initPayload()
}

func (p *RedisConsumer) initKeys() error {
	if p.Key == "" {
		return errors.New(`option key: required in keys mode (a SCAN MATCH pattern such as "sensor:*")`)
	}
	if p.ListMaxLength <= 0 {
		return errors.New("option list_max_length: must be positive")
	}
	return p.initPayload()
}

func (p *RedisConsumer) initPayload() error {
	pp, err := p.parserOptions.initParser(p.Measurement, p.Log)
	if err != nil {
		return err
	}
	p.parser = pp
	return nil
}

// inProcess is the state of the plugin built into Telegraf.
type inProcess struct {
	builtIn bool
	gather  gatherFunc        // quote and keys modes
	client  *redisconn.Client // Gather's connection
	starts  *redisconn.Starts
	outage  *redisconn.Outage
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// gatherFunc reads what one gather emits. Its error is a Redis failure;
// bad data is reported by the mode itself and simply yields no metrics.
type gatherFunc func(redis.Conn) ([]telegraf.Metric, error)

func (p *RedisConsumer) checkBuiltInOptions() error {
	set := p.MaxUndeliveredMessages != 0
	switch {
	case set && !p.builtIn:
		return errors.New("option max_undelivered_messages: only read built into Telegraf; the execd program acknowledges an entry once written to stdout")
	case set && p.Mode != "stream":
		return fmt.Errorf("option max_undelivered_messages: only read in stream mode (mode is %q)", p.Mode)
	case p.MaxUndeliveredMessages < 0:
		return errors.New("option max_undelivered_messages: must not be negative")
	case !set:
		p.MaxUndeliveredMessages = DefaultMaxUndelivered
	}
	return nil
}
