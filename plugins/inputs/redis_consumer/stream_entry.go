package redis_consumer

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/filter"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricpairs"
)

// entry is one stream entry as XREADGROUP and XAUTOCLAIM return it.
type entry struct {
	id string
	// fields are name, value, name, value, ...; nil when the entry is in
	// the pending list but was deleted from the stream (XDEL, XTRIM).
	fields [][]byte
}

// time is the entry ID's milliseconds: when Redis added it.
func (e entry) time() (time.Time, error) {
	ms, _, _ := strings.Cut(e.id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("entry ID %q: %w", e.id, err)
	}
	return time.UnixMilli(n), nil
}

// field returns the value of the first field called name.
func (e entry) field(name string) ([]byte, bool) {
	for i := 0; i+1 < len(e.fields); i += 2 {
		if string(e.fields[i]) == name {
			return e.fields[i+1], true
		}
	}
	return nil, false
}

// text is the entry's fields as name=value pairs, for log lines.
func (e entry) text() []byte {
	var b bytes.Buffer
	for i := 0; i+1 < len(e.fields); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.Write(e.fields[i])
		b.WriteByte('=')
		b.Write(e.fields[i+1])
	}
	return b.Bytes()
}

// parseEntries reads an array of [id, [field, value, ...]].
func parseEntries(reply any) ([]entry, error) {
	items, err := redis.Values(reply, nil)
	if err != nil {
		return nil, err
	}
	entries := make([]entry, 0, len(items))
	for _, item := range items {
		parts, err := redis.Values(item, nil)
		if err != nil || len(parts) != 2 {
			return nil, fmt.Errorf("unexpected stream entry %v", item)
		}
		id, err := redis.String(parts[0], nil)
		if err != nil {
			return nil, fmt.Errorf("stream entry ID: %w", err)
		}
		e := entry{id: id}
		if parts[1] != nil {
			if e.fields, err = redis.ByteSlices(parts[1], nil); err != nil {
				return nil, fmt.Errorf("stream entry %s: %w", id, err)
			}
			if e.fields == nil {
				e.fields = make([][]byte, 0) // present, without fields
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// readGroupEntries reads an XREADGROUP reply for one stream: nil when
// BLOCK ran out, else [[key, entries]].
func readGroupEntries(reply any) ([]entry, error) {
	if reply == nil {
		return nil, nil
	}
	streams, err := redis.Values(reply, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the reply to XREADGROUP: %w", err)
	}
	var entries []entry
	for _, s := range streams {
		kv, err := redis.Values(s, nil)
		if err != nil || len(kv) != 2 {
			return nil, errors.New("reading the reply to XREADGROUP: not [key, entries]")
		}
		got, err := parseEntries(kv[1])
		if err != nil {
			return nil, fmt.Errorf("reading the reply to XREADGROUP: %w", err)
		}
		entries = append(entries, got...)
	}
	return entries, nil
}

// claimed is what a page of XAUTOCLAIM gave.
type claimed struct {
	cursor  string
	entries []entry
	// dropped: pending entries no longer in the stream, which Redis 7+
	// drops from the pending list itself and names apart.
	dropped int
	// unnamed: the same on Redis 6.2, which claims them for us and answers
	// a nil in place of each, without its ID.
	unnamed int
}

// autoclaimEntries reads an XAUTOCLAIM reply: [next cursor, entries] and,
// from Redis 7, the IDs of pending entries no longer in the stream.
func autoclaimEntries(reply any) (claimed, error) {
	parts, err := redis.Values(reply, nil)
	if err != nil {
		return claimed{}, fmt.Errorf("reading the reply to XAUTOCLAIM: %w", err)
	}
	if len(parts) < 2 {
		return claimed{}, fmt.Errorf("reading the reply to XAUTOCLAIM: %d elements, not [cursor, entries, ...]", len(parts))
	}
	var page claimed
	if page.cursor, err = redis.String(parts[0], nil); err != nil {
		return claimed{}, fmt.Errorf("reading the cursor XAUTOCLAIM returned: %w", err)
	}
	items, err := redis.Values(parts[1], nil)
	if err != nil {
		return claimed{}, fmt.Errorf("reading the entries XAUTOCLAIM returned: %w", err)
	}
	named := items[:0]
	for _, item := range items {
		if item == nil {
			page.unnamed++
			continue
		}
		named = append(named, item)
	}
	if page.entries, err = parseEntries(named); err != nil {
		return claimed{}, fmt.Errorf("reading the entries XAUTOCLAIM returned: %w", err)
	}
	if len(parts) > 2 {
		ids, err := redis.Values(parts[2], nil)
		if err != nil {
			return claimed{}, fmt.Errorf("reading the deleted IDs XAUTOCLAIM returned: %w", err)
		}
		page.dropped = len(ids)
	}
	return page, nil
}

// entryID is a stream entry ID, <ms>-<seq>, as numbers.
type entryID struct{ ms, seq uint64 }

func parseEntryID(s string) (entryID, bool) {
	a, b, ok := strings.Cut(s, "-")
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return entryID{ms, seq}, ok && err1 == nil && err2 == nil
}

func (a entryID) less(b entryID) bool { return a.ms < b.ms || a.ms == b.ms && a.seq < b.seq }

func (a entryID) String() string {
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}

// before is the ID just before a; 0-0 has none.
func (a entryID) before() (entryID, bool) {
	switch {
	case a.seq > 0:
		return entryID{a.ms, a.seq - 1}, true
	case a.ms > 0:
		return entryID{a.ms - 1, math.MaxUint64}, true
	}
	return entryID{}, false
}

// pairs is the entry's field names and values, flat (name, value, ...):
// the one place convert reads the entry's representation.
func (e entry) pairs() [][]byte { return e.fields }

// entryFormat is what the plugin's options say of its stream entries.
type entryFormat struct {
	payloadField string // "": the entry's pairs are the metric
	measurement  string // the name of flat entries and of payloads without one
	tagFilter    filter.Filter
	parser       *payloadParser // payloads in data_format
	// lineProtocol: payloads are line protocol (data_format = "influx"),
	// with this influx_timestamp_precision.
	lineProtocol bool
	precision    time.Duration
}

// entryConverter turns stream entries into metrics, or straight into the
// line protocol written to stdout. Without payload_field the entry's
// pairs are the metric: in the typed layout with its own name and time, in
// the flat one named measurement and timed by the entry ID (when Redis
// added it). With payload_field, that field is parsed with data_format.
type entryConverter struct {
	entryFormat
	out *output // nil built in: metrics go to Telegraf

	rewrite *lineprotocol.Rewriter   // line protocol payloads, nil otherwise
	flat    *metricpairs.FlatWriter  // entries in the flat layout, without payload_field
	typed   *metricpairs.TypedWriter // entries in the typed layout, without payload_field

	idTag string // entry_id_tag: the tag naming each metric's entry ID
}

// newEntryConverter converts entries of format f; out, when not nil, is
// where convert's line protocol goes, and its writers name the tags they
// cut where out does: one warning per tag key for the process.
func newEntryConverter(f entryFormat, out *output) *entryConverter {
	c := &entryConverter{entryFormat: f, out: out}
	if out == nil {
		return c
	}
	if f.payloadField != "" && f.lineProtocol {
		c.rewrite, _ = lineprotocol.NewRewriter(f.precision) //nolint:errcheck // Init has checked the precision with Telegraf's parser
		c.rewrite.SetTrims(out.enc.Trims)
	}
	if f.payloadField == "" {
		c.flat = metricpairs.NewFlatWriter(f.measurement, f.tagFilter)
		c.typed = metricpairs.NewTypedWriter(f.tagFilter)
		c.flat.SetTrims(out.enc.Trims)
		c.typed.SetTrims(out.enc.Trims)
	}
	return c
}

// convert appends the line protocol of one entry to buf; on error buf is
// returned as it was. Pairs are written straight from the reply (package
// metricpairs), and a line protocol payload is rewritten to Telegraf's
// line protocol directly (package lineprotocol); only other payloads, and
// typed entries that break the layout (to name what is wrong), go through
// a telegraf.Metric and the serializer.
func (c *entryConverter) convert(buf []byte, e entry) ([]byte, error) {
	if c.idTag != "" {
		// The tag is added to the metrics: the direct paths write none.
		ms, err := c.metrics(e)
		if err != nil {
			return buf, err
		}
		return c.out.serialize(buf, ms)
	}
	if c.rewrite != nil {
		t, err := e.time()
		if err != nil {
			return buf, err
		}
		payload, ok := e.field(c.payloadField)
		if !ok {
			return buf, fmt.Errorf("no field %q", c.payloadField)
		}
		return c.rewrite.Rewrite(buf, payload, t)
	}
	if c.flat != nil {
		t, err := e.time()
		if err != nil {
			return buf, err
		}
		if !metricpairs.Typed(e.fields) {
			return c.flat.Append(buf, e.fields, t)
		}
		if out, ok := c.typed.Append(buf, e.fields, t); ok {
			return out, nil
		}
	}
	ms, err := c.metrics(e)
	if err != nil {
		return buf, err
	}
	return c.out.serialize(buf, ms)
}

// metrics are the metrics of one entry, tagged with its ID when
// entry_id_tag is set.
func (c *entryConverter) metrics(e entry) ([]telegraf.Metric, error) {
	ms, err := c.entryMetrics(e)
	if err != nil || c.idTag == "" {
		return ms, err
	}
	for _, m := range ms {
		m.AddTag(c.idTag, e.id)
	}
	return ms, nil
}

func (c *entryConverter) entryMetrics(e entry) ([]telegraf.Metric, error) {
	t, err := e.time()
	if err != nil {
		return nil, err
	}
	if c.payloadField == "" {
		m, err := metricpairs.ToMetric(c.measurement, e.pairs(), nil, c.tagFilter, t)
		if err != nil {
			return nil, err
		}
		return []telegraf.Metric{m}, nil
	}
	payload, ok := e.field(c.payloadField)
	if !ok {
		return nil, fmt.Errorf("no field %q", c.payloadField)
	}
	return c.parser.Parse(payload, t)
}
