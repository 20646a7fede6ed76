package lineprotocol

import (
	"fmt"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Rewriter passes line protocol payloads through the decoder (package
// metricline) and the Encoder, without a telegraf.Metric: the metrics
// Telegraf's influx parser would give, written as Telegraf's serializer
// would write them. It is not safe for concurrent use.
type Rewriter struct {
	dec *metricline.Influx
	enc Encoder
	n   int
	err error
	buf []byte
	// nanos: timestamps are in nanoseconds, as we write them, so a payload
	// in canonical form but for the order of fields is copied (see
	// copyCanonical).
	nanos  bool
	fields []fieldSpan
}

// NewRewriter reads payloads whose timestamps are in units of precision
// (0: nanoseconds), as Telegraf's influx_timestamp_precision.
func NewRewriter(precision time.Duration) (*Rewriter, error) {
	d, err := metricline.NewInflux(precision)
	if err != nil {
		return nil, err
	}
	d.LazyNumbers = true // the encoder copies floats already in their shortest form
	return &Rewriter{dec: d, nanos: precision <= time.Nanosecond}, nil
}

// SetTrims has the tags cut of trailing backslashes named to t (see
// Encoder.Trims).
func (r *Rewriter) SetTrims(t *Trims) { r.enc.Trims = t }

// Rewrite appends the metrics of payload to buf, one line each; lines
// without a timestamp take def. A payload with a bad line or without a
// metric is an error, and buf is returned as it was.
func (r *Rewriter) Rewrite(buf, payload []byte, def time.Time) ([]byte, error) {
	if r.nanos {
		if out, ok := r.copyCanonical(buf, payload); ok {
			return out, nil
		}
	}
	r.n, r.err, r.buf = 0, nil, buf
	start := len(buf)
	err := r.dec.DecodeAt(payload, def, r.add)
	buf, r.buf = r.buf, nil
	switch {
	case err != nil:
		return buf[:start], err
	case r.err != nil:
		return buf[:start], r.err
	case r.n == 0:
		return buf[:start], fmt.Errorf("no metric in the data")
	}
	return buf, nil
}

func (r *Rewriter) add(m *metricline.Metric) {
	if r.err != nil {
		return
	}
	var err error
	if r.buf, err = r.enc.AppendMetric(r.buf, m); err != nil {
		r.err = err
		return
	}
	r.buf = append(r.buf, '\n')
	r.n++
}
