// Package metricline is the metric as the two plugins hold it between a
// wire format and Redis: Metric (a name, tags, fields and a time, pointing
// into the line it was decoded from), the Decoder interface every format's
// decoder implements, Detect (each execd line in the format it is written
// in), Canonical (tags and fields in Telegraf's order) and the bridge to
// and from telegraf.Metric.
//
// The formats themselves live in their own packages, both directions in
// each: lineprotocol (InfluxDB line protocol) and metricjson (Telegraf
// JSON).
//
// A decoded Metric points into the line and the decoder's scratch space: it
// is valid only inside the callback it is passed to. Copy what you keep.
package metricline
