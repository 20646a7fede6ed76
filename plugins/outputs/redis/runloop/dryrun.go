package runloop

import (
	"errors"
	"fmt"
	"io"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/linereader"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// DryRun reads all of in and prints the Redis commands it would send, one
// batch per metric_batch_size metrics and one at the end. It connects to
// nothing.
func DryRun(in io.Reader, out io.Writer, cfg *Config, stats *Stats) error {
	dec, err := cfg.NewDecoder()
	if err != nil {
		return err
	}
	lines := linereader.New(in, cfg.Limits.MaxLineSize)
	b := cfg.Mode.NewBatch()
	emit := func() error {
		for _, c := range b.Commands() {
			if _, err := fmt.Fprintln(out, c); err != nil {
				return err
			}
			stats.Updates.Add(1)
		}
		stats.Written.Add(int64(b.Metrics()))
		b.Reset()
		return nil
	}
	for {
		line, err := lines.Next()
		var tooLong *linereader.TooLongError
		switch {
		case errors.Is(err, io.EOF):
			return emit()
		case errors.As(err, &tooLong):
			stats.Lines.Add(1)
			stats.Rejected.Add(1)
			cfg.Log.Errorf("line %d: %v: %q", tooLong.Line, err, tooLong.Head)
			continue
		case err != nil:
			return err
		}
		stats.Lines.Add(1)
		var addErr error
		derr := dec.Decode(line, func(m *metricline.Metric) {
			if err := b.Add(m); err != nil {
				addErr = err
				return
			}
			stats.Metrics.Add(1)
		})
		if derr == nil {
			derr = addErr
		}
		if derr != nil {
			stats.Rejected.Add(1)
			cfg.Log.Errorf("line %d: %v: %q", lines.Line(), derr, logger.Head(line))
		}
		if b.Metrics() >= cfg.Limits.BatchSize {
			if err := emit(); err != nil {
				return err
			}
		}
	}
}
