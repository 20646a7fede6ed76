package redis

// data_format: the serializer of publish, list, string and stream with
// payload_field, any of Telegraf's. Built in, Telegraf's loader makes it
// with its options and hands it to SetSerializer, as it does for
// [[outputs.file]]; under execd, our loader decodes the same options into
// the same serializer (pluginconfig.SerializerFormat). Where the
// serializer is influx or json with options our own encoders follow, they
// write its bytes without a telegraf.Metric per metric; every other
// serializer, or option, is Telegraf's own code.

import (
	"fmt"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/influxdata/telegraf/plugins/serializers/json"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricjson"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/commands"
)

// SetSerializer takes the serializer Telegraf's loader made of data_format
// and its options (telegraf.SerializerPlugin). Telegraf calls Write from
// one goroutine, so the one serializer serves every batch.
func (r *Redis) SetSerializer(s telegraf.Serializer) { r.serializer = s }

var _ telegraf.SerializerPlugin = (*Redis)(nil)

// formatName is data_format as Telegraf reads it: "influx" when unset.
func (r *Redis) formatName() string { return pluginconfig.DataFormatName(r.DataFormat) }

// newSerializer returns a serializer of data_format for one batch: built
// in, the one Telegraf made; under execd (or configured in code), a new
// one with the file's options. Influx and json, with options our encoders
// follow, are written by them (see fastSerializer); trims names the tags
// the line protocol encoder cuts of trailing backslashes.
func (r *Redis) newSerializer(trims *lineprotocol.Trims) (commands.Serializer, error) {
	s := r.serializer
	if s == nil {
		var err error
		if s, err = r.NewSerializer(r.DataFormat, r.Log); err != nil {
			return nil, err
		}
	}
	if fast := r.fastSerializer(pluginconfig.Unwrap(s), trims); fast != nil {
		return fast, nil
	}
	return &telegrafSerializer{s: s, name: r.formatName()}, nil
}

// fastSerializer returns our own encoder where it writes, byte for byte,
// what Telegraf's serializer s writes (the fuzz targets FuzzEncodeVsTelegraf
// hold them to it), or nil. The influx encoder also refuses a metric
// Telegraf's parser would not read back from the line
// (lineprotocol.CarryError).
func (r *Redis) fastSerializer(s any, trims *lineprotocol.Trims) commands.Serializer {
	switch s := s.(type) {
	case *influx.Serializer:
		if s.MaxLineBytes == 0 && !s.OmitTimestamp {
			return &lineprotocol.Encoder{Trims: trims, FieldsInOrder: !s.SortFields, UintAsInt: !s.UintSupport}
		}
	case *json.Serializer:
		if s.Transformation == "" && len(s.NestedFieldsInclude) == 0 && len(s.NestedFieldsExclude) == 0 {
			// The plugin's own json_timestamp_units and _format are decoded
			// from the same options as the serializer's.
			return jsonSerializer{metricjson.New(time.Duration(r.JSONTimestampUnits), r.JSONTimestampFormat)}
		}
	}
	return nil
}

// checkSerializer makes the serializer once, so that Init reports what
// is wrong with its options, and notes whether it is one of Telegraf's
// (always, with use_batch_format: our encoders write one metric).
func (r *Redis) checkSerializer() error {
	if !r.serializes() {
		return nil
	}
	s, err := r.newSerializer(nil)
	if err != nil {
		return err
	}
	_, r.telegrafFormat = s.(*telegrafSerializer)
	r.telegrafFormat = r.telegrafFormat || r.UseBatchFormat
	return nil
}

// batchSerializer returns, with use_batch_format, what makes the
// serializer of a batch: Telegraf's serializer of data_format, whose
// SerializeBatch writes the metrics of one key as one value (json's
// {"metrics":[...]}, prometheus's one exposition, influx's lines, ...).
func (r *Redis) batchSerializer() func() (commands.BatchSerializer, error) {
	if !r.UseBatchFormat {
		return nil
	}
	return func() (commands.BatchSerializer, error) {
		s := r.serializer
		if s == nil {
			var err error
			if s, err = r.NewSerializer(r.DataFormat, r.Log); err != nil {
				return nil, err
			}
		}
		return &telegrafSerializer{s: s, name: r.formatName()}, nil
	}
}

// jsonSerializer is metricjson's encoder as a commands.Serializer.
type jsonSerializer struct{ e *metricjson.Encoder }

func (s jsonSerializer) AppendMetric(dst []byte, m *metricline.Metric) ([]byte, error) {
	return s.e.AppendMetric(dst, m), nil
}

// telegrafSerializer is one of Telegraf's serializers as a
// commands.Serializer: it appends the bytes Telegraf's serializer gives
// the metric, as they are (its trailing newline too, where it writes one).
type telegrafSerializer struct {
	s    telegraf.Serializer
	name string
}

func (t *telegrafSerializer) AppendMetric(dst []byte, m *metricline.Metric) ([]byte, error) {
	b, err := t.Serialize(m.ToTelegraf())
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// Serialize is the serializer's, its error naming the format. Telegraf's
// serializers skip what they cannot write (a graphite metric of string
// fields only, say): nothing to store, and not silently dropped, so an
// error too.
func (t *telegrafSerializer) Serialize(m telegraf.Metric) ([]byte, error) {
	b, err := t.s.Serialize(m)
	if err != nil {
		return nil, fmt.Errorf("data_format %q: %w", t.name, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("data_format %q writes nothing for this metric", t.name)
	}
	return b, nil
}

// SerializeBatch is the serializer's, as Serialize.
func (t *telegrafSerializer) SerializeBatch(ms []telegraf.Metric) ([]byte, error) {
	b, err := t.s.SerializeBatch(ms)
	if err != nil {
		return nil, fmt.Errorf("data_format %q: %w", t.name, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("data_format %q writes nothing for these metrics", t.name)
	}
	return b, nil
}

// refuseUnusedFormat refuses, in the modes that write no serialized
// metric (quote, hash, stream without payload_field), the options of the
// serializer: data_format itself is refused by refuseRenamed. Under execd
// the file names them; built in, Telegraf's loader has decoded them into
// the serializer it made, and they are told from a new one with its
// defaults. json_timestamp_units and _format are the plugin's own too
// (readBy).
func (r *Redis) refuseUnusedFormat() error {
	if r.serializes() {
		return nil
	}
	names := r.FormatOptions()
	if r.serializer != nil {
		fresh, err := pluginconfig.FreshSerializer(r.formatName())
		if err != nil {
			return err
		}
		names = pluginconfig.ChangedOptions(pluginconfig.Unwrap(r.serializer), fresh)
	}
	for _, name := range names {
		if name == "json_timestamp_units" || name == "json_timestamp_format" {
			continue
		}
		return fmt.Errorf("option %s: an option of data_format %q, the serializer of publish, list, string and stream with payload_field; here %s",
			name, r.formatName(), r.describe(name))
	}
	return nil
}
