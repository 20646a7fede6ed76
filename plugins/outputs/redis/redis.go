// Package redis is the [[outputs.redis]] plugin: its options, Init, and
// the telegraf.Output that Telegraf runs built in (builtin.go). The execd
// program redis-output runs the same plugin on its stdin (execd.go hands
// package runloop what it needs).
//
// The rooms below it: writer is what every write mode offers; quote
// (quote mode) and commands (hash, stream, publish, list, string) are the
// write modes; runloop reads stdin, holds the backlog and writes it; spool
// keeps what was read on disk until it is in Redis; keytemplate renders
// the per-metric keys.
package redis

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/linereader"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/quote"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

//go:embed sample.conf
var sampleConfig string

// Redis holds the plugin's options, named as in sample.conf.
type Redis struct {
	redisconn.Config
	// Options tells the options the config file set: Init refuses those
	// the chosen mode would not read.
	pluginconfig.Options

	// DataFormat is the serializer of publish, list, string and stream
	// with payload_field: Telegraf's meaning of data_format in an output.
	// What [[outputs.execd]] writes to stdin is detected on each line.
	DataFormat string `toml:"data_format"`
	// The JSON serializer's options; under execd also how the JSON on
	// stdin writes its timestamps.
	JSONTimestampUnits  config.Duration `toml:"json_timestamp_units"`
	JSONTimestampFormat string          `toml:"json_timestamp_format"`
	// Execd only: the unit of line protocol timestamps on stdin.
	InfluxTimestampPrecision config.Duration `toml:"influx_timestamp_precision"`

	Mode           string          `toml:"mode"`
	Key            string          `toml:"key"`
	Quote          string          `toml:"quote"`
	TimestampUnits config.Duration `toml:"timestamp_units"`
	StateKey       string          `toml:"state_key"`
	Publish        string          `toml:"publish"`
	Expire         config.Duration `toml:"expire"`
	MaxFuture      config.Duration `toml:"max_future"`
	AgeOut         config.Duration `toml:"age_out"`

	Layout        string `toml:"layout"`
	IncludeTags   bool   `toml:"include_tags"`
	StreamMaxlen  int    `toml:"stream_maxlen"`
	PayloadField  string `toml:"payload_field"`
	ListMaxLength int    `toml:"list_max_length"`

	FlushInterval         config.Duration `toml:"flush_interval"`
	MetricBatchSize       int             `toml:"metric_batch_size"`
	MaxUndeliveredMetrics int             `toml:"max_undelivered_metrics"`
	MaxLineSize           config.Size     `toml:"max_line_size"`
	WaitReplicas          int             `toml:"wait_replicas"`
	SpoolDir              string          `toml:"spool_dir"`
	SpoolMaxSize          config.Size     `toml:"spool_max_size"`

	renamedOptions

	Log telegraf.Logger `toml:"-"`

	inProcess

	decoder metricline.Decoder
	// newMode returns the write mode of a run (or of the plugin built
	// in): its batches share what it keeps between writes.
	newMode func() writer.Mode
	mode    writer.Mode // of the run, or of the plugin built in
}

// SampleConfig returns the documented default configuration.
func (*Redis) SampleConfig() string { return sampleConfig }

// New returns the plugin with the article's defaults.
func New() *Redis {
	return &Redis{
		Mode:                  "quote",
		Quote:                 "usd",
		Layout:                LayoutTyped,
		TimestampUnits:        config.Duration(time.Second),
		MaxFuture:             config.Duration(DefaultMaxFuture),
		MetricBatchSize:       DefaultMetricBatchSize,
		MaxUndeliveredMetrics: 5000,
		MaxLineSize:           config.Size(linereader.DefaultMax),
		SpoolMaxSize:          config.Size(256 << 20),
	}
}

// newDecoder returns a decoder of what [[outputs.execd]] writes; each reading goroutine has
// its own.
func (r *Redis) newDecoder() (metricline.Decoder, error) {
	// Numbers stay text (Kind Decimal): quote mode converts only the price
	// it keeps, and our serializers and keytemplate.AppendValue copy text
	// already in float64's shortest form instead of parsing and formatting.
	j := metricline.NewJSON(time.Duration(r.JSONTimestampUnits), r.JSONTimestampFormat)
	j.FloatNumbers = true
	j.LazyNumbers = true
	lp, err := metricline.NewInflux(time.Duration(r.InfluxTimestampPrecision))
	if err != nil {
		return nil, fmt.Errorf("option influx_timestamp_precision: %w", err)
	}
	lp.LazyNumbers = true
	// Each line on stdin is decoded in its own format: JSON or line
	// protocol, whichever [[outputs.execd]]'s data_format writes.
	return &metricline.Detect{JSON: j, Influx: lp}, nil
}

// Init checks the options and prepares the decoder and the write mode.
func (r *Redis) Init() error {
	switch r.Mode {
	case "quote", "hash", "stream", "publish", "list", "string":
	default:
		return fmt.Errorf(`option mode: %q is not supported (want "quote", "hash", "stream", "publish", "list" or "string")`, r.Mode)
	}
	if err := r.refuseRenamed(); err != nil {
		return err
	}
	if r.builtIn {
		if err := r.refuseExecdOnly(); err != nil {
			return err
		}
	}
	// expire = "0s" means never, flush_interval = "0s" each flush of
	// Telegraf's as soon as it is read, max_future = "0s" no check and
	// age_out = "0s" no aging; no other duration may be 0.
	if err := r.CheckDurations(r, "expire", "flush_interval", "max_future", "age_out"); err != nil {
		return err
	}
	if err := r.refuseUnread(); err != nil {
		return err
	}
	r.Config.File = &r.Options
	if err := r.Config.Init(); err != nil {
		return err
	}
	if r.JSONTimestampUnits != 0 {
		if err := pluginconfig.UnitsOfTen("json_timestamp_units", time.Duration(r.JSONTimestampUnits)); err != nil {
			return err
		}
	}
	// As Telegraf's influx parser: the units line protocol has.
	switch p := time.Duration(r.InfluxTimestampPrecision); p {
	case 0, time.Nanosecond, time.Microsecond, time.Millisecond, time.Second:
	default:
		return fmt.Errorf("option influx_timestamp_precision: %s is not 1ns, 1us, 1ms or 1s", p)
	}
	d, err := r.newDecoder()
	if err != nil {
		return err
	}
	r.decoder = d
	if r.FlushInterval < 0 {
		return fmt.Errorf("option flush_interval: must not be negative")
	}
	if r.MetricBatchSize <= 0 {
		return fmt.Errorf("option metric_batch_size: must be positive")
	}
	if r.MaxUndeliveredMetrics < r.MetricBatchSize {
		return fmt.Errorf("option max_undelivered_metrics: %d is less than metric_batch_size %d", r.MaxUndeliveredMetrics, r.MetricBatchSize)
	}
	if r.MaxLineSize <= 0 {
		return fmt.Errorf("option max_line_size: must be positive")
	}
	if r.SpoolDir != "" && r.SpoolMaxSize < r.MaxLineSize+(1<<20) {
		return fmt.Errorf("option spool_max_size: must exceed max_line_size by 1MiB, or a long line could never fit")
	}
	if r.WaitReplicas < 0 {
		return fmt.Errorf("option wait_replicas: must not be negative")
	}
	if r.Expire < 0 {
		return fmt.Errorf("option expire: must not be negative")
	}

	switch r.Mode {
	case "quote":
		if r.Key == "" {
			r.Key = DefaultQuoteKey
		}
		return r.initQuote()
	default:
		if r.Key == "" {
			r.Key = DefaultMetricKey
		}
		return r.initPerMetric()
	}
}

// waitMs is WAIT's timeout: half the reply timeout, so WAIT answers
// before the read deadline.
func (r *Redis) waitMs() int64 { return max(1, time.Duration(r.Timeout).Milliseconds()/2) }

// Default keys: the article's document, and one key (or channel) per
// measurement for the per-metric modes.
const (
	DefaultQuoteKey  = "coingecko:rate:usd"
	DefaultMetricKey = "telegraf:{{.Name}}"
)

// DefaultMaxFuture is how far ahead of the clock a price may be dated: a
// scraper's clock a little ahead is fine, a message from 2262 is not.
const DefaultMaxFuture = 5 * time.Minute

func (r *Redis) initQuote() error {
	if r.Quote == "" {
		return fmt.Errorf("option quote: must not be empty")
	}
	// The document's timestamp in units that are a power of ten, as
	// Telegraf writes them; any other value is refused, not rounded.
	units := time.Duration(r.TimestampUnits)
	if err := pluginconfig.UnitsOfTen("timestamp_units", units); err != nil {
		return err
	}
	stateSet := r.StateKey != ""
	if !stateSet {
		r.StateKey = quote.StateKeyFor(r.Key)
	}
	if r.StateKey == r.Key {
		return fmt.Errorf("option state_key: must differ from key")
	}
	opts := &quote.Options{
		Key:            r.Key,
		StateKey:       r.StateKey,
		Quote:          r.Quote,
		Publish:        r.Publish,
		Expire:         time.Duration(r.Expire),
		TimestampUnits: units,
		MaxFuture:      time.Duration(r.MaxFuture),
		AgeOut:         time.Duration(r.AgeOut),
	}
	if r.IsCluster() {
		// The merge script touches the document and the state keys at
		// once: in a cluster they must share a hash slot, or every write
		// fails with CROSSSLOT, for ever.
		if k, ds, s := opts.SlotConflict(); k != "" {
			option, fix := "key", `give key a hash tag, e.g. "{rates}:usd" (the state key follows it)`
			if stateSet {
				option, fix = "state_key", "give state_key key's hash tag, or leave it unset to follow key"
			}
			return fmt.Errorf("option %s: in a Redis Cluster the quote document %q (hash slot %d) and its state key %q (hash slot %d) must share a hash slot, as the merge script writes both at once: %s",
				option, r.Key, ds, k, s, fix)
		}
	}
	wait, waitMs := int64(r.WaitReplicas), r.waitMs()
	r.newMode = func() writer.Mode { return quote.NewMode(opts, wait, waitMs) }
	return nil
}
