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
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/linereader"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/commands"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/runloop"
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
	// with payload_field: Telegraf's meaning of data_format in an output,
	// any of its serializers, with their options (format.go). What
	// [[outputs.execd]] writes to stdin is detected on each line.
	DataFormat string `toml:"data_format"`
	// The serializer's options, under execd (built in, Telegraf's loader
	// hands SetSerializer the serializer it made).
	pluginconfig.SerializerFormat
	// The JSON serializer's options, the plugin's too: under execd they
	// also say how the JSON on stdin writes its timestamps.
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
	// UseBatchFormat writes the metrics of a batch for one key as one
	// value, serialized as a batch (format.go).
	UseBatchFormat bool `toml:"use_batch_format"`

	// Idempotent stream and list writes (see commands/idem.go).
	Deduplicate       bool            `toml:"deduplicate"`
	DeduplicateWindow config.Duration `toml:"deduplicate_window"`
	DeduplicateMaxIDs int             `toml:"deduplicate_max_ids"`

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

	// serializer is the one Telegraf's loader made, built in.
	serializer telegraf.Serializer
	// telegrafFormat: the serializer is Telegraf's code, not our encoder
	// (format.go).
	telegrafFormat bool

	decoder metricline.Decoder
	// newMode returns the write mode of a run (or of the plugin built
	// in): its batches share what it keeps between writes.
	newMode   func() writer.Mode
	writeMode writer.Mode // of the run, or of the plugin built in
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
		Deduplicate:           DefaultDeduplicate,
		DeduplicateWindow:     config.Duration(DefaultDeduplicateWindow),
		DeduplicateMaxIDs:     DefaultDeduplicateMaxIDs,
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

// The defaults of idempotent stream and list writes: off, for what they
// cost (see the README); when on, each producer remembers per key the ids
// it applied in the last day, at most ten thousand of them (twice the
// default max_undelivered_metrics: a replay after a restart never holds
// more than that).
const (
	DefaultDeduplicate       = false
	DefaultDeduplicateWindow = 24 * time.Hour
	DefaultDeduplicateMaxIDs = 10000
)

// DefaultMaxFuture is how far ahead of the clock a price may be dated: a
// scraper's clock a little ahead is fine, a message from 2262 is not.
const DefaultMaxFuture = 5 * time.Minute

// The layouts of a hash or stream entry (option layout).
const (
	LayoutTyped = commands.LayoutTyped // each value with its type (package metricpairs)
	LayoutFlat  = commands.LayoutFlat  // fields only, values as bare text: the layout of earlier versions
)

// renamedOptions are options of earlier versions whose name or meaning
// changed. They are still decoded, so that a config written for an earlier
// version is refused with a message that says what to write instead (see
// the upgrade note in README.md), rather than with "unknown option" or,
// worse, read with another meaning.
type renamedOptions struct {
	// data_format_out became data_format, the name Telegraf gives an
	// output's serializer.
	DataFormatOut string `toml:"data_format_out"`
}

// DefaultMetricBatchSize is Telegraf's own default.
const DefaultMetricBatchSize = 1000

// inProcess is the state of the plugin built into Telegraf.
type inProcess struct {
	builtIn bool
	client  *redisconn.Client
	batch   writer.Batch
	metric  metricline.Metric
	backoff *redisconn.Backoff
	retryAt time.Time
	away    bool // the last write found Redis away: probe at the next
	starts  *redisconn.Starts

	// policy is the retry timings of both loops (tests shorten them).
	policy runloop.Retry
}
