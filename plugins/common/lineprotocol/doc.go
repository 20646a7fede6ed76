// Package lineprotocol is InfluxDB line protocol, both directions, as
// Telegraf (v1.37.2) reads and writes it:
//
//   - Influx decodes a line into a metricline.Metric exactly as Telegraf's
//     influx parser reads it, on Telegraf's own state machine, with a fast
//     path for plain lines and no allocation per line (decode.go);
//   - Encoder writes a metricline.Metric byte for byte as Telegraf's influx
//     serializer with influx_sort_fields and influx_uint_support
//     (encode.go);
//   - Rewriter turns a line protocol payload into Telegraf's canonical
//     line protocol, copying it where it already is (rewrite.go), and
//     ShortestDecimal tells a number already in its shortest form;
//   - carry.go holds the one rule of what line protocol cannot carry:
//     tags trimmed as Telegraf trims them (Trims), everything else that
//     Telegraf's parser would not read back refused (CarryError).
//
// Differential fuzz targets hold each direction to Telegraf's own code.
package lineprotocol
