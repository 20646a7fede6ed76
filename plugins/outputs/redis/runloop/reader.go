package runloop

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/linereader"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// The reading side of a run: lines from the spool's replay and from stdin
// handed to the decoders, and reading paused while the backlog is full.

// source is where lines come from: the spool's replay, then stdin. base
// is the spool offset of its first byte, so every line has an offset that
// can be committed once it is in Redis.
type source struct {
	label string
	r     io.Reader
	base  int64
}

// read decodes the sources line by line into the pending batch, waiting
// while the backlog is full.
func (u *run) read(sources []source) {
	defer func() {
		u.mu.Lock()
		u.readDone = true
		u.mu.Unlock()
		close(u.readEnded)
		u.signal()
	}()
	for _, src := range sources {
		if !u.readSource(src) {
			return
		}
	}
}

// decoders take the lines of one source: decoded as they are read (one
// decoder), or in chunks on several goroutines (decoders.go).
type decoders interface {
	// stopped tells whether reading must end before the next line.
	stopped() bool
	// idle is told when no whole line is buffered: the reader may wait.
	idle()
	// line takes one line, whose number is no and after which the spool
	// offset is end; false means stop reading.
	line(line []byte, no, end int64) bool
	// refused takes a line refused before decoding, with its error line.
	refused(no int64, msg string, end int64)
	// finish ends the source: what is held is decoded and merged when
	// keep is set. It tells whether everything was merged.
	finish(keep bool) bool
}

// readSource reads one source to its end; false means stop reading.
func (u *run) readSource(src source) bool {
	in := src.r
	if u.lim.Gather {
		in = &gatherReader{r: in}
	}
	lines := linereader.New(in, u.lim.MaxLineSize)
	var d decoders
	if u.lim.Decoders > 1 {
		d = u.newChunker(src, lines)
	} else {
		d = u.newInline(src)
	}
	merged, err := feed(lines, d, src.label, src.base)
	if err != nil {
		if !u.isStopping() { // at a stop, the spool closing under a blocked read is no news
			u.readFailed(src, err)
		}
		return false
	}
	return merged
}

// feed hands d the lines of lines, labelled label in error lines, whose
// first byte is at spool offset base: the one line loop of redis-output,
// for a run and a dry run alike. At the end it returns d.finish(true); at
// a stop of d's, d.finish(false) and false; at a read error,
// d.finish(true), false and the error.
func feed(lines *linereader.Reader, d decoders, label string, base int64) (bool, error) {
	for {
		if lines.WouldWait() {
			d.idle()
		}
		if d.stopped() {
			d.finish(false)
			return false, nil
		}
		line, err := lines.Next()
		var tooLong *linereader.TooLongError
		switch {
		case errors.Is(err, io.EOF):
			return d.finish(true), nil
		case errors.As(err, &tooLong):
			d.refused(tooLong.Line, fmt.Sprintf("%s %d: %v: %q", label, tooLong.Line, err, tooLong.Head), base+lines.Offset())
			continue
		case err != nil:
			d.finish(true)
			return false, err
		}
		if !d.line(line, lines.Line(), base+lines.Offset()) {
			d.finish(false)
			return false, nil
		}
	}
}

// inline decodes each line as it is read, into the pending batch.
type inline struct {
	u       *run
	label   string
	dec     metricline.Decoder
	add     func(m *metricline.Metric)
	pending writer.Batch // the batch add adds to
	lineErr error        // the first metric of the line the batch refused
}

func (u *run) newInline(src source) *inline {
	dec, err := u.cfg.NewDecoder()
	if err != nil { // the plugin's Init made one with the same options
		panic(err)
	}
	d := &inline{u: u, label: src.label, dec: dec}
	d.add = func(m *metricline.Metric) {
		if err := d.pending.Add(m); err != nil {
			if d.lineErr == nil {
				d.lineErr = fmt.Errorf("metric at %d: %w", m.Time, err)
			}
			return
		}
		u.stats.Metrics.Add(1)
	}
	return d
}

func (*inline) stopped() bool { return false }

// idle, with flush_interval = 0: what was written so far is read (a
// Telegraf flush, usually): write it now rather than on a timer.
func (d *inline) idle() {
	if d.u.lim.FlushInterval == 0 {
		d.u.signal()
	}
}

func (d *inline) refused(_ int64, msg string, end int64) {
	u := d.u
	u.stats.Lines.Add(1)
	u.stats.Rejected.Add(1)
	u.log.Errorf("%s", msg)
	u.mu.Lock()
	u.pendingEnd = end
	u.mu.Unlock()
}

func (d *inline) line(line []byte, no, end int64) bool {
	u := d.u
	u.stats.Lines.Add(1)
	u.mu.Lock()
	if u.stopping && !u.drain {
		u.mu.Unlock()
		return false
	}
	d.pending, d.lineErr = u.pending, nil
	derr := d.dec.Decode(line, d.add)
	u.pendingEnd = end
	full := u.full()
	due := u.pending.Metrics() >= u.lim.BatchSize
	u.mu.Unlock()

	if derr == nil {
		derr = d.lineErr
	}
	if derr != nil {
		u.stats.Rejected.Add(1)
		u.log.Errorf("%s %d: %v: %q", d.label, no, derr, logger.Head(line))
	}
	if due || full {
		u.signal()
	}
	if full {
		u.waitForRoom()
	}
	return true
}

func (*inline) finish(bool) bool { return true }

// gatherReader pauses briefly after a short read. Telegraf's execd output
// writes every metric with a write of its own; read as they come, each
// line costs a wake-up of the reader and a read, more than decoding it.
// After the pause the next read takes whatever came meanwhile at once. A
// line waits at most the pause, a fraction of any flush interval.
type gatherReader struct {
	r io.Reader
}

const gatherPause = 500 * time.Microsecond

func (g *gatherReader) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err == nil && n > 0 && n < 16<<10 && n < len(p) {
		time.Sleep(gatherPause)
	}
	return n, err
}
