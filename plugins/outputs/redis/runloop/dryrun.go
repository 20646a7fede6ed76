package runloop

import (
	"fmt"
	"io"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/linereader"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// DryRun reads all of in and prints the Redis commands it would send, one
// batch per metric_batch_size metrics and one at the end. It connects to
// nothing. Lines go through the run loop's own line loop (feed).
func DryRun(in io.Reader, out io.Writer, cfg *Config, stats *Stats) error {
	dec, err := cfg.NewDecoder()
	if err != nil {
		return err
	}
	d := &dryRun{cfg: cfg, stats: stats, out: out, dec: dec, batch: cfg.Mode.NewBatch()}
	d.add = func(m *metricline.Metric) {
		if err := d.batch.Add(m); err != nil {
			if d.lineErr == nil {
				d.lineErr = err
			}
			return
		}
		stats.Metrics.Add(1)
	}
	if _, err := feed(linereader.New(in, cfg.Limits.MaxLineSize), d, "line", 0); err != nil {
		return err
	}
	return d.err
}

// dryRun is the decoders of a dry run: each line decoded into one batch,
// whose commands are printed when it is full and at the end.
type dryRun struct {
	cfg     *Config
	stats   *Stats
	out     io.Writer
	dec     metricline.Decoder
	batch   writer.Batch
	add     func(m *metricline.Metric)
	lineErr error // the first metric of the line the batch refused
	err     error // printing failed: stop
}

func (d *dryRun) stopped() bool { return d.err != nil }

func (*dryRun) idle() {}

func (d *dryRun) refused(_ int64, msg string, _ int64) {
	d.stats.Lines.Add(1)
	d.stats.Rejected.Add(1)
	d.cfg.Log.Errorf("%s", msg)
}

func (d *dryRun) line(line []byte, no, _ int64) bool {
	d.stats.Lines.Add(1)
	d.lineErr = nil
	err := d.dec.Decode(line, d.add)
	if err == nil {
		err = d.lineErr
	}
	if err != nil {
		d.stats.Rejected.Add(1)
		d.cfg.Log.Errorf("line %d: %v: %q", no, err, logger.Head(line))
	}
	if d.batch.Metrics() >= d.cfg.Limits.BatchSize {
		d.print()
	}
	return d.err == nil
}

func (d *dryRun) finish(keep bool) bool {
	if keep {
		d.print()
	}
	return d.err == nil
}

// print writes the batch's commands and empties it.
func (d *dryRun) print() {
	if d.err != nil {
		return
	}
	for _, c := range d.batch.Commands() {
		if _, err := fmt.Fprintln(d.out, c); err != nil {
			d.err = err
			return
		}
		d.stats.Updates.Add(1)
	}
	d.stats.Written.Add(int64(d.batch.Metrics()))
	d.batch.Reset()
}
