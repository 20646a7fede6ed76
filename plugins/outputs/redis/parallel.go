package redis

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/linereader"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// Quote mode is all decoding: a line of ten prices costs about half a
// microsecond of JSON, and Redis sees one EVALSHA per few thousand lines
// (the profile: decode 65%, coalescing 20%, all on the reading goroutine).
// So its lines are decoded on every core: the reader cuts them into chunks,
// decoders fill a batch per chunk, and the chunks are merged into the
// pending batch in the order they were read, so the latest price still
// wins. Each merge is one Absorb of a few coins (for the per-metric modes
// that decode so, a copy of the chunk's commands, in order).
const (
	chunkLines = 256
	chunkBytes = 256 << 10
)

// decodesInParallel tells whether readSource hands a source to
// readParallel: in the modes where the plugin, not Redis, is the bound. publish, list
// and string send one short value per metric (Redis spends about 1.6 µs
// on it, the plugin 2.2 µs decoding and serializing), and decoding on both
// cores took them from 0.66-0.82 to 0.79-0.88 of their ceiling (A/B in
// BENCHMARKS.md). hash and stream write 17 pairs per metric, Redis is the
// bound there, and a second decoder only competes with it for the other
// core: no faster, 5 to 20 MiB more RSS, so they decode as they read.
func (r *Redis) decodesInParallel() bool {
	if runtime.GOMAXPROCS(0) < 2 {
		return false
	}
	switch r.Mode {
	case "quote", "publish", "list", "string":
		return true
	}
	return false
}

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

// readParallel is readSource for decodesInParallel; false means stop reading.
func (u *run) readParallel(src source) bool {
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *chunk, workers)
	order := make(chan *chunk, 2*workers)
	free := make(chan *chunk, 3*workers+1)
	for i := 0; i < cap(free); i++ {
		free <- &chunk{batch: u.mode.NewBatch()}
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		dec, err := u.r.newDecoder()
		if err != nil { // Init made one with the same options
			panic(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				u.decodeChunk(dec, src.label, c)
				close(c.done)
			}
		}()
	}
	merged := make(chan bool, 1)
	var queued atomic.Int64 // chunks sent to the decoders, not yet merged
	go func() { merged <- u.mergeChunks(order, free, &queued) }()

	inline, err := u.r.newDecoder()
	if err != nil {
		panic(err)
	}
	ok := u.cutChunks(src, work, order, free, &queued, inline)
	close(work)
	close(order)
	wg.Wait()
	if !<-merged {
		ok = false
	}
	return ok
}

// cutChunks reads lines into chunks and queues them, in order, to the
// decoders and to the merger. Input that trickles (Telegraf writes a line
// per write, and we keep up) is not worth a hand-off per line: a small
// chunk cut because no more input is there, with nothing queued before it,
// is decoded and merged right here.
func (u *run) cutChunks(src source, work, order chan<- *chunk, free chan *chunk, queued *atomic.Int64, inline metricline.Decoder) bool {
	var r io.Reader = src.r
	if u.r.Mode == "quote" {
		// Only quote mode trades half a millisecond of latency for fewer
		// wake-ups: the per-metric modes write each metric as it comes.
		r = &gatherReader{r: r}
	}
	lines := linereader.New(r, int(u.r.MaxLineSize))
	c := u.newChunk(free)
	stopped := false
	send := func() {
		if len(c.ends) < chunkLines/4 && lines.Buffered() == 0 && queued.Load() == 0 {
			u.decodeChunk(inline, src.label, c)
			if !u.mergeOne(c) {
				stopped = true
			}
			free <- c
			c = u.newChunk(free)
			return
		}
		queued.Add(1)
		c.done = make(chan struct{})
		order <- c // blocks while the merger waits for room: back-pressure
		work <- c
		c = u.newChunk(free)
	}
	for {
		if stopped || u.isStopping() {
			free <- c
			return false
		}
		line, err := lines.Next()
		var tooLong *linereader.TooLongError
		switch {
		case errors.Is(err, io.EOF):
			if c.lines > 0 {
				c.end = src.base + lines.Offset()
				send()
			}
			free <- c
			return true
		case errors.As(err, &tooLong):
			c.lines++
			c.rejected++
			c.errs = append(c.errs, badLine{tooLong.Line, fmt.Sprintf("%s %d: %v: %q", src.label, tooLong.Line, err, tooLong.Head)})
			c.end = src.base + lines.Offset()
			if lines.WouldWait() {
				send()
			}
			continue
		case err != nil:
			if !u.isStopping() { // at a stop, the spool closing under a blocked read is no news
				u.readFailed(src, err)
			}
			if c.lines > 0 {
				send()
			}
			free <- c
			return false
		}
		c.lines++
		c.data = append(c.data, line...)
		c.ends = append(c.ends, len(c.data))
		c.lineNos = append(c.lineNos, lines.Line())
		c.end = src.base + lines.Offset()
		// A chunk goes when full, and before the reader may wait for
		// input (no whole line is buffered; a part of one may be): lines
		// never wait for lines that have not come.
		if len(c.ends) >= chunkLines || len(c.data) >= chunkBytes || lines.WouldWait() {
			send()
		}
	}
}

// gatherReader pauses briefly after a short read. Telegraf's execd output
// writes every metric with a write of its own; read as they come, each
// line costs a wake-up of the reader and a read (the pipeline profile:
// several microseconds a line, more than decoding it). After the pause the
// next read takes whatever came meanwhile at once. A line waits at most
// the pause, a fraction of any flush interval.
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

func (u *run) newChunk(free chan *chunk) *chunk {
	c := <-free
	c.data, c.ends, c.lineNos, c.errs = c.data[:0], c.ends[:0], c.lineNos[:0], c.errs[:0]
	c.lines, c.metrics, c.rejected = 0, 0, 0
	return c
}

// isStopping tells whether reading must end: a stop, unless the run
// drains stdin (stopped while waiting for its spool).
func (u *run) isStopping() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stopping && !u.drain
}

// decodeChunk decodes a chunk's lines into its batch, noting bad lines.
func (u *run) decodeChunk(dec metricline.Decoder, label string, c *chunk) {
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
// readSource decodes no more lines), and false is returned.
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
// back-pressure, signals, stats and error lines of readSource; false
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
		u.r.Log.Errorf("%s", e.msg)
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
	full := u.pending.Metrics()+u.inflight >= u.r.MaxUndeliveredMetrics
	due := u.pending.Metrics() >= u.r.MetricBatchSize
	u.mu.Unlock()
	// With flush_interval = 0 what was read is written at once, as in
	// readSource: a chunk is cut at the latest when the reader may wait.
	if due || full || u.r.FlushInterval == 0 {
		u.signal()
	}
	if full {
		u.waitForRoom()
	}
	return true
}
