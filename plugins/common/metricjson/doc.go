// Package metricjson is Telegraf JSON, both directions:
//
//   - JSON decodes one line, a metric or a {"metrics":[...]} batch
//     (use_batch_format), into metricline.Metric values without
//     allocating, as Telegraf's json serializer writes them (decode.go,
//     on the scanner in scan.go);
//   - Encoder writes a metricline.Metric byte for byte as Telegraf's json
//     serializer (v1.37.2) writes one metric with json_timestamp_units and
//     json_timestamp_format: keys sorted, strings escaped as encoding/json
//     escapes them, no telegraf.Metric or maps (encode.go).
//
// Differential fuzz targets hold both to Telegraf's own code.
package metricjson
