package redis

import (
	"errors"
	"time"
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

// serializes reports whether the mode writes metrics with data_format.
func (r *Redis) serializes() bool {
	switch r.Mode {
	case "publish", "list", "string":
		return true
	case "stream":
		return r.PayloadField != ""
	}
	return false
}

func (r *Redis) refuseRenamed() error {
	if r.DataFormatOut != "" {
		return errors.New(`option data_format_out: renamed data_format (the serializer, as in every Telegraf output); ` +
			`what [[outputs.execd]] writes to stdin, JSON or line protocol, is now detected on each line`)
	}
	if r.DataFormat != "" && !r.serializes() {
		// Before, data_format named what [[outputs.execd]] writes; now it
		// is the serializer, which this mode does not use.
		return errors.New(`option data_format: names the serializer of publish, list, string and stream with payload_field, ` +
			`not read in ` + r.Mode + ` mode; what [[outputs.execd]] writes to stdin, JSON or line protocol, is detected on each line: remove it`)
	}
	return nil
}

// flushEvery is the flusher's timer: none when flush_interval is 0, the
// default, and each write follows Telegraf's own flush instead.
func (r *Redis) flushEvery() time.Duration { return time.Duration(r.FlushInterval) }
