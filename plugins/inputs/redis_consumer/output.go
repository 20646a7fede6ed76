package redis_consumer

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"unsafe"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/lineprotocol"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// maxKept bounds the sets of problems already logged (stream entries kept
// after a parse error, metrics left out): past it a set starts again, and
// they are logged again.
const maxKept = 100000

// output writes line protocol to stdout (nanosecond timestamps, what
// [[inputs.execd]]'s influx parser expects) with our own encoder: byte for
// byte what Telegraf's influx serializer writes with sorted fields and
// unsigned integers kept unsigned (Telegraf's influx parser reads them),
// without its allocations. A gather or a batch is serialized whole and
// written with one Write, so Telegraf sees it at once and nothing waits in
// a buffer. It is shared by the loops of a mode (quote with subscribe has
// two), hence the lock.
type output struct {
	mu  sync.Mutex
	w   io.Writer
	enc lineprotocol.Encoder
	m   metricline.Metric // a telegraf.Metric seen through our types
	// leftOut: the errors of metrics emit left out, each logged once
	// (a gather reads the same bad key again and again).
	leftOut map[string]bool
}

// StdoutError means stdout could not be written: Telegraf is gone, and the
// process should end without acknowledging anything more.
type StdoutError struct{ Err error }

func (e *StdoutError) Error() string { return fmt.Sprintf("writing to stdout: %v", e.Err) }
func (e *StdoutError) Unwrap() error { return e.Err }

// newOutput writes to w. The tags its encoder cuts of trailing
// backslashes are named with log's W!, once per tag key, and so are those
// of the stream writers that share its Trims (shareTrims); nil log: not
// named.
func newOutput(w io.Writer, log telegraf.Logger) *output {
	o := &output{w: w, leftOut: map[string]bool{}}
	if log != nil {
		o.enc.Trims = lineprotocol.NewTrims(log.Warnf)
	}
	return o
}

// serialize appends the line protocol of ms to buf. A metric that cannot be
// written (no field left, no name, a name or key line protocol cannot
// carry: see lineprotocol.CarryError) is an error, so the caller can treat
// its source as bad data.
func (o *output) serialize(buf []byte, ms []telegraf.Metric) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	start := len(buf)
	for _, m := range ms {
		o.view(m)
		var err error
		if buf, err = o.enc.AppendMetric(buf, &o.m); err != nil {
			return buf[:start], err
		}
		buf = append(buf, '\n')
	}
	return buf, nil
}

// view points o.m at m's name, tags and fields, without copying them: the
// encoder only reads.
func (o *output) view(m telegraf.Metric) {
	v := &o.m
	v.Name = bytesOf(m.Name())
	v.Tags = v.Tags[:0]
	for _, t := range m.TagList() {
		v.Tags = append(v.Tags, metricline.Tag{Key: bytesOf(t.Key), Value: bytesOf(t.Value)})
	}
	v.Fields = v.Fields[:0]
	for _, f := range m.FieldList() {
		field := metricline.Field{Key: bytesOf(f.Key)}
		switch x := f.Value.(type) {
		case float64:
			field.Kind, field.Float = metricline.Float, x
		case int64:
			field.Kind, field.Int = metricline.Int, x
		case uint64:
			field.Kind, field.Uint = metricline.Uint, x
		case string:
			field.Kind, field.Str = metricline.String, bytesOf(x)
		case bool:
			field.Kind, field.Bool = metricline.Bool, x
		}
		// Any other type has no Kind: left out, as Telegraf's serializer
		// leaves it out.
		v.Fields = append(v.Fields, field)
	}
	v.Time = m.Time().UnixNano()
}

// bytesOf is s as bytes without a copy; never written to.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// write sends what serialize built, in one Write.
func (o *output) write(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.w.Write(buf); err != nil {
		return &StdoutError{err}
	}
	return nil
}

// emit serializes and writes ms; metrics that cannot be serialized are
// reported, each error once (at debug level after), and left out.
func (o *output) emit(ms []telegraf.Metric, log telegraf.Logger) error {
	var buf []byte
	for _, m := range ms {
		b, err := o.serialize(buf, []telegraf.Metric{m})
		if err != nil {
			o.reportLeftOut(log, fmt.Sprintf("metric %s left out: %v", m.Name(), err))
		}
		buf = b
	}
	return o.write(buf)
}

func (o *output) reportLeftOut(log telegraf.Logger, msg string) {
	o.mu.Lock()
	seen := o.leftOut[msg]
	if !seen {
		if len(o.leftOut) >= maxKept {
			clear(o.leftOut)
		}
		o.leftOut[msg] = true
	}
	o.mu.Unlock()
	if seen {
		log.Debugf("%s (again)", msg)
		return
	}
	log.Errorf("%s", msg)
}

// isStdout tells a stdout failure (fatal) from a Redis one (retried).
func isStdout(err error) bool {
	var se *StdoutError
	return errors.As(err, &se)
}
