package redis

import (
	"errors"
	"fmt"
	"time"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricjson"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/quote"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// newDecoder returns a decoder of what [[outputs.execd]] writes; each reading goroutine has
// its own.
func (r *Redis) newDecoder() (metricline.Decoder, error) {
	// Numbers stay text (Kind Decimal): quote mode converts only the price
	// it keeps, and our serializers and keytemplate.AppendValue copy text
	// already in float64's shortest form instead of parsing and formatting.
	j := metricjson.NewJSON(time.Duration(r.JSONTimestampUnits), r.JSONTimestampFormat)
	j.FloatNumbers = true
	j.LazyNumbers = true
	lp, err := lineprotocol.NewInflux(time.Duration(r.InfluxTimestampPrecision))
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
	if err := r.refuseUnusedFormat(); err != nil {
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
		return errors.New("option flush_interval: must not be negative")
	}
	if r.MetricBatchSize <= 0 {
		return errors.New("option metric_batch_size: must be positive")
	}
	if r.MaxUndeliveredMetrics < r.MetricBatchSize {
		return fmt.Errorf("option max_undelivered_metrics: %d is less than metric_batch_size %d", r.MaxUndeliveredMetrics, r.MetricBatchSize)
	}
	if r.MaxLineSize <= 0 {
		return errors.New("option max_line_size: must be positive")
	}
	if r.SpoolDir != "" && r.SpoolMaxSize < r.MaxLineSize+(1<<20) {
		return errors.New("option spool_max_size: must exceed max_line_size by 1MiB, or a long line could never fit")
	}
	if r.WaitReplicas < 0 {
		return errors.New("option wait_replicas: must not be negative")
	}
	if r.Expire < 0 {
		return errors.New("option expire: must not be negative")
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

func (r *Redis) initQuote() error {
	if r.Quote == "" {
		return errors.New("option quote: must not be empty")
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
		return errors.New("option state_key: must differ from key")
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
			return fmt.Errorf("option %s: in a Redis Cluster the quote document %q (hash slot %d) and its state key %q (hash slot %d) must share a hash slot, "+
				"as the merge script writes both at once: %s", option, r.Key, ds, k, s, fix)
		}
	}
	wait, waitMs := int64(r.WaitReplicas), r.waitMs()
	r.newMode = func() writer.Mode { return quote.NewMode(opts, wait, waitMs) }
	return nil
}
