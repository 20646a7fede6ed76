package redis_consumer

import (
	"fmt"
	"io"
	"sync"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/serializers/influx"
)

// output writes line protocol to stdout with Telegraf's own serializer
// (nanosecond timestamps, what [[inputs.execd]]'s influx parser expects).
// A gather or a batch is serialized whole and written with one Write, so
// Telegraf sees it at once and nothing waits in a buffer. It is shared by
// the loops of a mode (quote with subscribe has two), hence the lock.
type output struct {
	mu  sync.Mutex
	w   io.Writer
	ser *influx.Serializer
}

// StdoutError means stdout could not be written: Telegraf is gone, and the
// process should end without acknowledging anything more.
type StdoutError struct{ Err error }

func (e *StdoutError) Error() string { return fmt.Sprintf("writing to stdout: %v", e.Err) }
func (e *StdoutError) Unwrap() error { return e.Err }

func newOutput(w io.Writer) *output {
	// Sorted fields make the output stable; Telegraf's influx parser reads
	// unsigned integers, so they are kept unsigned.
	ser := &influx.Serializer{SortFields: true, UintSupport: true}
	_ = ser.Init() // never fails
	return &output{w: w, ser: ser}
}

// serialize appends the line protocol of ms to buf. A metric that cannot be
// written (no field left, no name) is an error, so the caller can treat its
// source as bad data.
func (o *output) serialize(buf []byte, ms []telegraf.Metric) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	start := len(buf)
	for _, m := range ms {
		b, err := o.ser.Serialize(m)
		if err != nil {
			return buf[:start], err
		}
		buf = append(buf, b...)
	}
	return buf, nil
}

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
// reported and left out.
func (o *output) emit(ms []telegraf.Metric, log telegraf.Logger) error {
	var buf []byte
	for _, m := range ms {
		b, err := o.serialize(buf, []telegraf.Metric{m})
		if err != nil {
			log.Errorf("metric %s left out: %v", m.Name(), err)
		}
		buf = b
	}
	return o.write(buf)
}
