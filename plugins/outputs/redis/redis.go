// Package redis is the [[outputs.redis]] execd plugin: it reads what
// Telegraf's [[outputs.execd]] writes to its stdin and writes it to Redis.
//
// Telegraf counts a metric as delivered once it is on our stdin, so what we
// have read and not yet written is ours alone to keep: it is held in a
// bounded backlog, written in batches, retried while Redis is away, and
// when the backlog is full stdin is no longer read, which is the only way
// to push back on Telegraf (and, behind it, on Kafka).
package redis

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/linereader"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/quote"
)

//go:embed sample.conf
var sampleConfig string

// Redis holds the plugin's options, named as in sample.conf.
type Redis struct {
	redisconn.Config

	DataFormat               string          `toml:"data_format"`
	JSONTimestampUnits       config.Duration `toml:"json_timestamp_units"`
	JSONTimestampFormat      string          `toml:"json_timestamp_format"`
	InfluxTimestampPrecision config.Duration `toml:"influx_timestamp_precision"`

	Mode           string          `toml:"mode"`
	Key            string          `toml:"key"`
	Quote          string          `toml:"quote"`
	TimestampUnits config.Duration `toml:"timestamp_units"`
	StateKey       string          `toml:"state_key"`
	Publish        string          `toml:"publish"`
	Expire         config.Duration `toml:"expire"`

	DataFormatOut string `toml:"data_format_out"`
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

	Log telegraf.Logger `toml:"-"`

	decoder  metricline.Decoder
	newBatch func() batch
}

// SampleConfig returns the documented default configuration.
func (*Redis) SampleConfig() string { return sampleConfig }

// New returns the plugin with the article's defaults.
func New() *Redis {
	return &Redis{
		DataFormat:            "json",
		Mode:                  "quote",
		Quote:                 "usd",
		DataFormatOut:         "influx",
		TimestampUnits:        config.Duration(time.Second),
		FlushInterval:         config.Duration(100 * time.Millisecond),
		MetricBatchSize:       5000,
		MaxUndeliveredMetrics: 20000,
		MaxLineSize:           config.Size(linereader.DefaultMax),
		SpoolMaxSize:          config.Size(256 << 20),
	}
}

// newDecoder returns a decoder for data_format; each reading goroutine has
// its own.
func (r *Redis) newDecoder() (metricline.Decoder, error) {
	// Numbers stay text (Kind Decimal): quote mode converts only the price
	// it keeps, and our serializers and keytemplate.AppendValue copy text
	// already in float64's shortest form instead of parsing and formatting.
	switch r.DataFormat {
	case "json":
		d := metricline.NewJSON(time.Duration(r.JSONTimestampUnits), r.JSONTimestampFormat)
		d.FloatNumbers = true
		d.LazyNumbers = true
		return d, nil
	case "influx":
		d, err := metricline.NewInflux(time.Duration(r.InfluxTimestampPrecision))
		if err != nil {
			return nil, fmt.Errorf("option influx_timestamp_precision: %w", err)
		}
		d.LazyNumbers = true
		return d, nil
	}
	return nil, fmt.Errorf(`option data_format: %q is not supported (want "json" or "influx")`, r.DataFormat)
}

// Init checks the options and prepares the decoder and the write mode.
func (r *Redis) Init() error {
	if err := r.Config.Init(); err != nil {
		return err
	}
	d, err := r.newDecoder()
	if err != nil {
		return err
	}
	r.decoder = d
	if r.FlushInterval <= 0 {
		return fmt.Errorf("option flush_interval: must be positive")
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
	case "hash", "stream", "publish", "list", "string":
		if r.Key == "" {
			r.Key = DefaultMetricKey
		}
		return r.initPerMetric()
	default:
		return fmt.Errorf(`option mode: %q is not supported (want "quote", "hash", "stream", "publish", "list" or "string")`, r.Mode)
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

func (r *Redis) initQuote() error {
	if r.Quote == "" {
		return fmt.Errorf("option quote: must not be empty")
	}
	units := time.Duration(r.TimestampUnits)
	if units <= 0 {
		units = time.Second
	}
	// A power of ten, as Telegraf's JSON serializer rounds its units.
	d := time.Nanosecond
	for d*10 <= units {
		d *= 10
	}
	if r.StateKey == "" {
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
		TimestampUnits: d,
	}
	wait, waitMs := int64(r.WaitReplicas), r.waitMs()
	r.newBatch = func() batch { return &quoteBatch{Batch: quote.NewBatch(opts), wait: wait, waitMs: waitMs} }
	return nil
}
