package redis

import "fmt"

// readBy says which configurations read an option; options not listed are
// read in every mode. An option the chosen configuration never reads is
// refused at start (as redis-input does): accepting it would hide a
// mistake such as the wrong mode, and the user would believe it applied.
var readBy = map[string]struct {
	where string // said in the error
	reads func(r *Redis) bool
}{
	"quote":            {`mode = "quote"`, modeIs("quote")},
	"timestamp_units":  {`mode = "quote"`, modeIs("quote")},
	"state_key":        {`mode = "quote"`, modeIs("quote")},
	"max_future":       {`mode = "quote"`, modeIs("quote")},
	"age_out":          {`mode = "quote"`, modeIs("quote")},
	"publish":          {`mode = "quote" (it names the channel the document is published on)`, modeIs("quote")},
	"expire":           {`every mode but "publish"`, func(r *Redis) bool { return r.Mode != "publish" }},
	"include_tags":     {`modes "hash" and "stream" (without payload_field)`, (*Redis).laysOut},
	"stream_maxlen":    {`mode = "stream"`, modeIs("stream")},
	"payload_field":    {`mode = "stream"`, modeIs("stream")},
	"list_max_length":  {`mode = "list"`, modeIs("list")},
	"use_batch_format": {`modes "publish", "list", "string" and "stream" with payload_field`, (*Redis).serializes},
	// Under execd, what [[outputs.execd]] writes may be JSON on any line;
	// built in, only the JSON serializer reads them.
	"json_timestamp_units":  {`data_format = "json", or under execd`, readsJSON},
	"json_timestamp_format": {`data_format = "json", or under execd`, readsJSON},
	"spool_max_size":        {"spool_dir", func(r *Redis) bool { return r.SpoolDir != "" }},
	"deduplicate":           {`modes "stream" and "list"`, writesEntries},
	"deduplicate_window":    {`modes "stream" and "list" with deduplicate`, dedupes},
	"deduplicate_max_ids":   {`modes "stream" and "list" with deduplicate`, dedupes},
}

// writesEntries tells the modes whose writes add an entry each time
// (stream, list), which only deduplicate makes idempotent.
func writesEntries(r *Redis) bool { return r.Mode == "stream" || r.Mode == "list" }

func dedupes(r *Redis) bool { return writesEntries(r) && r.Deduplicate }

func modeIs(mode string) func(*Redis) bool { return func(r *Redis) bool { return r.Mode == mode } }

// laysOut tells the modes that lay a metric out as fields (layout).
func (r *Redis) laysOut() bool {
	return r.Mode == "hash" || (r.Mode == "stream" && r.PayloadField == "")
}

func readsJSON(r *Redis) bool { return !r.builtIn || (r.serializes() && r.DataFormat == "json") }

// refuseUnread refuses the first used option (set in the file, or
// changed from its default) that this configuration does not read.
func (r *Redis) refuseUnread() error {
	for _, name := range r.Used(r, New()) {
		rule, ok := readBy[name]
		if ok && !rule.reads(r) {
			return fmt.Errorf("option %s: only read with %s; here %s", name, rule.where, r.describe(name))
		}
	}
	return nil
}

// describe says what, in this configuration, keeps the option unread.
func (r *Redis) describe(option string) string {
	switch option {
	case "json_timestamp_units", "json_timestamp_format":
		return fmt.Sprintf("built in, with mode = %q and data_format = %q", r.Mode, r.DataFormat)
	case "spool_max_size":
		return "spool_dir is not set"
	case "deduplicate_window", "deduplicate_max_ids":
		if writesEntries(r) {
			return "deduplicate is false"
		}
	}
	if r.Mode == "stream" && r.PayloadField == "" {
		return `mode = "stream" without payload_field`
	}
	return fmt.Sprintf("mode = %q", r.Mode)
}
