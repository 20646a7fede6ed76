package runloop

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/linereader"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// With several decoders, the reader cuts lines into chunks, each decoder
// fills a batch per chunk, and the chunks are merged into the pending
// batch in the order they were read, so the latest price still wins. Each
// merge is one Absorb (of a few coins in quote mode; of the chunk's
// commands, in order, in the per-metric modes).
const (
	chunkLines = 256
	chunkBytes = 256 << 10
)

// chunk is a run of lines read together, decoded by one decoder.
type chunk struct {
	data    []byte       // the lines, back to back (the reader's buffer is reused)
	ends    []int        // where each line ends in data
	lineNos []int64      // each line's number
	end     int64        // the spool offset after the last line
	batch   writer.Batch // what the lines decoded to
	errs    []badLine
	// Counted when the chunk is merged, so that the stats never run ahead
	// of the pending batch.
	lines, metrics, rejected int64
	done                     chan struct{}
}

type badLine struct {
	line int64
	msg  string
}

// chunker is the decoders of one source when there are several: it cuts
// the lines into chunks and queues them, in order, to the decoders and to
// the merger. Input that trickles (Telegraf writes a line per write, and
// we keep up) is not worth a hand-off per line: a small chunk cut because
// no more input is there, with nothing queued before it, is decoded and
// merged on the reader's goroutine.
type chunker struct {
	u      *run
	label  string
	lines  *linereader.Reader
	inline metricline.Decoder
	work   chan *chunk // to the decoders
	order  chan *chunk // to the merger, in the order read
	free   chan *chunk
	queued atomic.Int64 // chunks sent to the decoders, not yet merged
	wg     sync.WaitGroup
	merged chan bool // the merger's end: whether it merged every chunk
	c      *chunk    // the chunk being cut
	halted bool      // an inline merge found a stop
}

func (u *run) newChunker(src source, lines *linereader.Reader) *chunker {
	workers := u.lim.Decoders
	d := &chunker{
		u:      u,
		label:  src.label,
		lines:  lines,
		work:   make(chan *chunk, workers),
		order:  make(chan *chunk, 2*workers),
		free:   make(chan *chunk, 3*workers+1),
		merged: make(chan bool, 1),
	}
	for i := 0; i < cap(d.free); i++ {
		d.free <- &chunk{batch: u.cfg.Mode.NewBatch()}
	}
	for i := 0; i < workers; i++ {
		dec := u.mustDecoder()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			for c := range d.work {
				u.decodeChunk(dec, d.label, c)
				close(c.done)
			}
		}()
	}
	go func() { d.merged <- u.mergeChunks(d.order, d.free, &d.queued) }()
	d.inline = u.mustDecoder()
	d.c = d.newChunk()
	return d
}

// mustDecoder returns a new decoder: the plugin's Init made one with the
// same options, so it cannot fail.
func (u *run) mustDecoder() metricline.Decoder {
	dec, err := u.cfg.NewDecoder()
	if err != nil {
		panic(err)
	}
	return dec
}

func (d *chunker) stopped() bool { return d.halted || d.u.isStopping() }

// idle sends the chunk: lines never wait for lines that have not come.
func (d *chunker) idle() {
	if d.c.lines > 0 {
		d.send()
	}
}

func (d *chunker) refused(no int64, msg string, end int64) {
	c := d.c
	c.lines++
	c.rejected++
	c.errs = append(c.errs, badLine{no, msg})
	c.end = end
}

func (d *chunker) line(line []byte, no, end int64) bool {
	c := d.c
	c.lines++
	c.data = append(c.data, line...)
	c.ends = append(c.ends, len(c.data))
	c.lineNos = append(c.lineNos, no)
	c.end = end
	if len(c.ends) >= chunkLines || len(c.data) >= chunkBytes {
		d.send()
	}
	return true
}

func (d *chunker) finish(keep bool) bool {
	if keep && d.c.lines > 0 {
		d.send()
	}
	d.free <- d.c
	close(d.work)
	close(d.order)
	d.wg.Wait()
	return <-d.merged
}

// send queues the chunk, or decodes and merges a small one here.
func (d *chunker) send() {
	u, c := d.u, d.c
	if len(c.ends) < chunkLines/4 && d.lines.Buffered() == 0 && d.queued.Load() == 0 {
		u.decodeChunk(d.inline, d.label, c)
		if !u.mergeOne(c) {
			d.halted = true
		}
		d.free <- c
		d.c = d.newChunk()
		return
	}
	d.queued.Add(1)
	c.done = make(chan struct{})
	d.order <- c // blocks while the merger waits for room: back-pressure
	d.work <- c
	d.c = d.newChunk()
}

func (d *chunker) newChunk() *chunk {
	c := <-d.free
	c.data, c.ends, c.lineNos, c.errs = c.data[:0], c.ends[:0], c.lineNos[:0], c.errs[:0]
	c.lines, c.metrics, c.rejected = 0, 0, 0
	return c
}

// decodeChunk decodes a chunk's lines into its batch, noting bad lines.
func (*run) decodeChunk(dec metricline.Decoder, label string, c *chunk) {
	var lineErr error
	add := func(m *metricline.Metric) {
		if err := c.batch.Add(m); err != nil {
			if lineErr == nil {
				lineErr = fmt.Errorf("metric at %d: %w", m.Time, err)
			}
			return
		}
		c.metrics++
	}
	from := 0
	for i, end := range c.ends {
		line := c.data[from:end]
		from = end
		lineErr = nil
		err := dec.Decode(line, add)
		if err == nil {
			err = lineErr
		}
		if err != nil {
			c.rejected++
			c.errs = append(c.errs, badLine{c.lineNos[i], fmt.Sprintf("%s %d: %v: %q", label, c.lineNos[i], err, logger.Head(line))})
		}
	}
}

// mergeChunks folds decoded chunks into the pending batch in the order
// they were read. After a stop, decoded chunks are no longer merged (as
// inline decodes no more lines), and false is returned.
func (u *run) mergeChunks(order <-chan *chunk, free chan<- *chunk, queued *atomic.Int64) bool {
	ok := true
	for c := range order {
		<-c.done
		if ok {
			ok = u.mergeOne(c)
		} else {
			c.batch.Reset()
		}
		queued.Add(-1)
		free <- c
	}
	return ok
}

// mergeOne folds one decoded chunk into the pending batch, with the
// back-pressure, signals, stats and error lines of inline; false
// after a stop (the chunk is dropped).
func (u *run) mergeOne(c *chunk) bool {
	if u.isStopping() {
		// Not read: its lines are not counted, and their errors (a line
		// cut by the stop, most likely) are no news.
		c.batch.Reset()
		return false
	}
	slices.SortStableFunc(c.errs, func(a, b badLine) int { return int(a.line - b.line) })
	for _, e := range c.errs {
		u.log.Errorf("%s", e.msg)
	}
	u.mu.Lock()
	if u.stopping && !u.drain {
		u.mu.Unlock()
		c.batch.Reset()
		return false
	}
	u.pending.Absorb(c.batch)
	u.pendingEnd = c.end
	u.stats.Lines.Add(c.lines)
	u.stats.Metrics.Add(c.metrics)
	u.stats.Rejected.Add(c.rejected)
	full := u.full()
	due := u.pending.Metrics() >= u.lim.BatchSize
	u.mu.Unlock()
	// With flush_interval = 0 what was read is written at once, as by
	// inline: a chunk is cut at the latest when the reader may wait.
	if due || full || u.lim.FlushInterval == 0 {
		u.signal()
	}
	if full {
		u.waitForRoom()
	}
	return true
}
