package commands

import (
	"fmt"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// use_batch_format: in the modes that serialize (publish, list, string,
// stream with payload_field), the metrics of a batch that go to one key
// are written as one value, what the serializer's SerializeBatch gives
// them, as Telegraf's outputs with use_batch_format (file, http, amqp, ...)
// write a batch, and as MQTT's batch layout writes one message per topic:
// one PUBLISH, RPUSH, SET or XADD per key and batch. Add only groups the
// metrics by key; the commands are built once the batch is complete
// (seal), before it is stamped, absorbed, described or written.

// BatchSerializer serializes the metrics of one key as one value; its
// errors name the format. Serialize tells, when a batch fails, which of its
// metrics the serializer refuses.
type BatchSerializer interface {
	Serialize(m telegraf.Metric) ([]byte, error)
	SerializeBatch(ms []telegraf.Metric) ([]byte, error)
}

// keyGroup is the metrics of one key, in their order.
type keyGroup struct {
	key     string
	metrics []telegraf.Metric
}

// grouping is a batch's metrics by key, until seal.
type grouping struct {
	ser    BatchSerializer
	build  func(b *batch, m *metricline.Metric) error // the mode's, for one key's value
	preset *presetSerializer                          // what build writes as the value
	log    telegraf.Logger

	groups  []keyGroup
	byKey   map[string]int
	keyBuf  []byte
	scratch metricline.Metric
}

// presetSerializer gives the mode's builder the value seal serialized.
type presetSerializer struct{ value []byte }

func (p *presetSerializer) AppendMetric(dst []byte, _ *metricline.Metric) ([]byte, error) {
	return append(dst, p.value...), nil
}

// collect is Add with use_batch_format: the metric joins its key's group.
func (p *perMetric) collect(b *batch, m *metricline.Metric) error {
	g := b.grouping
	var err error
	if g.keyBuf, err = p.key.Append(g.keyBuf[:0], m); err != nil {
		return err
	}
	if len(g.keyBuf) == 0 {
		return fmt.Errorf("key template %q gives an empty key", p.key)
	}
	i, ok := g.byKey[string(g.keyBuf)]
	if !ok {
		i = len(g.groups)
		g.byKey[string(g.keyBuf)] = i
		g.groups = append(g.groups, keyGroup{key: string(g.keyBuf)})
	}
	g.groups[i].metrics = append(g.groups[i].metrics, m.ToTelegraf())
	return nil
}

// seal builds the commands of the metrics grouped since the last seal:
// one value per key, in the order the keys came. Metrics the serializer
// refuses are left out with an E! line each, and counted in
// b.refusedAtSeal; the others of their key are written.
func (b *batch) seal() {
	g := b.grouping
	if g == nil || len(g.groups) == 0 {
		return
	}
	for _, grp := range g.groups {
		value, n := g.serialize(grp.metrics)
		b.metrics -= len(grp.metrics) - n
		b.refusedAtSeal += len(grp.metrics) - n
		if n == 0 {
			continue
		}
		g.preset.value = value
		metricline.FromTelegraf(grp.metrics[0], &g.scratch)
		cmds, spans, arena := len(b.cmds), len(b.spans), len(b.arena)
		b.first = true
		if err := g.build(b, &g.scratch); err != nil {
			// The key rendered at Add: only a template that renders a
			// metric differently once it has gone through a
			// telegraf.Metric could fail here.
			b.cmds, b.spans, b.arena = b.cmds[:cmds], b.spans[:spans], b.arena[:arena]
			b.metrics -= n
			b.refusedAtSeal += n
			g.refuse(grp.metrics, err)
			continue
		}
		b.cmds[cmds].extra = n - 1
	}
	g.reset()
}

// serialize returns the value of one key's metrics and how many of them
// it holds: all, or those the serializer takes alone when it fails the
// batch.
func (g *grouping) serialize(ms []telegraf.Metric) ([]byte, int) {
	value, err := g.ser.SerializeBatch(ms)
	if err == nil {
		return value, len(ms)
	}
	kept := make([]telegraf.Metric, 0, len(ms))
	for _, m := range ms {
		if _, err := g.ser.Serialize(m); err != nil {
			g.refuse([]telegraf.Metric{m}, err)
			continue
		}
		kept = append(kept, m)
	}
	if len(kept) == 0 {
		return nil, 0
	}
	if value, err = g.ser.SerializeBatch(kept); err != nil {
		g.refuse(kept, err)
		return nil, 0
	}
	return value, len(kept)
}

func (g *grouping) refuse(ms []telegraf.Metric, err error) {
	if g.log == nil {
		return
	}
	for _, m := range ms {
		g.log.Errorf("metric %s at %s not written: %v", m.Name(), m.Time().UTC().Format(time.RFC3339Nano), err)
	}
}

// reset forgets the metrics grouped (none stays referenced).
func (g *grouping) reset() {
	if g != nil {
		clear(g.groups)
		g.groups = g.groups[:0]
		clear(g.byKey)
	}
}
