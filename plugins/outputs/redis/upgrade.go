package redis

import (
	"errors"
)

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
