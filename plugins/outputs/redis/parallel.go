package redis

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/linereader"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Quote mode is all decoding: a line of ten prices costs about half a
// microsecond of JSON, and Redis sees one EVALSHA per few thousand lines
// (the profile: decode 65%, coalescing 20%, all on the reading goroutine).
// So its lines are decoded on every core: the reader cuts them into chunks,
// decoders fill a batch per chunk, and the chunks are merged into the
// pending batch in the order they were read, so the latest price still
// wins. Each merge is one Absorb of a few coins.
const (
	chunkLines = 256
	chunkBytes = 256 << 10
)

// parallelDecode tells whether readSource hands a source to readParallel.
func (u *run) parallelDecode() bool {
	return u.r.Mode == "quote" && runtime.GOMAXPROCS(0) > 1
}

// chunk is a run of lines read together, decoded by one decoder.
type chunk struct {
	data    []byte  // the lines, back to back (the reader's buffer is reused)
	ends    []int   // where each line ends in data
	lineNos []int64 // each line's number
	end     int64   // the spool offset after the last line
	batch   batch   // what the lines decoded to
	errs    []badLine
	// flush: the reader may wait for input after this chunk (a Telegraf
	// flush read to its end, or the end of the input), so with
	// flush_interval = 0 its merge wakes the flusher.
	flush bool
	// Counted when the chunk is merged, so that the stats never run ahead
	// of the pending batch.
	lines, metrics, rejected int64
	done                     chan struct{}
}

type badLine struct {
	line int64
	msg  string
}

// readParallel is readSource for parallelDecode; false means stop reading.
func (u *run) readParallel(src source) bool {
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *chunk, workers)
	order := make(chan *chunk, 2*workers)
	free := make(chan *chunk, 3*workers+1)
	for i := 0; i < cap(free); i++ {
		free <- &chunk{batch: u.r.newBatch()}
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
// per write, and we keep up) is not worth a hand-off: the lines of a read
// that did not fill the buffer, with nothing queued before them, are
// decoded and merged right here (in the pipeline every hand-off wakes a
// thread, and a thread switch costs more than decoding a read's lines).
//
// With flush_interval = 0 the flusher is woken when the reader is about
// to wait for input: when Telegraf's flush has been read to its end. The
// lines of a flush come one write at a time and take several reads; while
// more of a burst is already waiting they are gathered, for maxGather at
// most. A steady trickle (a line or two a read) is written after every
// read, as before.
func (u *run) cutChunks(src source, work, order chan<- *chunk, free chan *chunk, queued *atomic.Int64, inline metricline.Decoder) bool {
	gather := newGatherReader(src.r)
	defer gather.close()
	lines := linereader.New(gather, int(u.r.MaxLineSize))
	c := u.newChunk(free)
	stopped := false
	// Lines sent without waking the flusher, since when, and where the
	// last of them ends.
	unflushed := false
	var since time.Time
	var lastEnd int64
	send := func() {
		if c.flush {
			unflushed, since = false, time.Time{}
		} else if lines.WouldWait() {
			now := time.Now()
			if !unflushed {
				unflushed, since = true, now
			}
			if now.Sub(since) >= maxGather {
				c.flush, unflushed, since = true, false, time.Time{}
			}
		}
		lastEnd = c.end
		// Input that trickles in is decoded here: a hand-off to a decoder
		// costs more than decoding the little a read brought.
		if gather.trickle && queued.Load() == 0 {
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
	// Before a read that may wait: unless input is already there, what
	// was read is written now.
	gather.beforeRead = func(burst bool) {
		if !unflushed || burst {
			return
		}
		if c.lines == 0 && queued.Load() == 0 {
			unflushed, since = false, time.Time{}
			if u.r.FlushInterval == 0 {
				u.signal() // every line read is merged
			}
			return
		}
		// Through the merger, after the chunks before it.
		if c.lines == 0 {
			c.end = lastEnd
		}
		c.flush = true
		send()
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
				c.flush = true
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
				u.r.Log.Errorf("reading %ss: %v", src.label, err)
			}
			if c.lines > 0 {
				c.flush = true
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
	r          io.Reader
	fd         syscall.RawConn  // r's, when r is a file (stdin), to ask what is there
	trickle    bool             // the last read was short: input comes as it is written
	polled     *os.File         // r made pollable, closed by close
	burst      bool             // the last read was part of a burst (a Telegraf flush)
	beforeRead func(burst bool) // called before each read: is more of a burst waiting?
}

const (
	gatherPause = 500 * time.Microsecond
	// burstPause is the pause after a read of a burst: Telegraf is
	// writing a flush. The pipe holds more than a flush, so the writer
	// does not wait on us meanwhile.
	burstPause = 2 * time.Millisecond
	burstBytes = 8 << 10 // read at once after a pause: a burst
	pipeSize   = 1 << 20
	// maxGather bounds how long lines read go unwritten (flush_interval
	// = 0) while the writer is still writing: a Telegraf flush of a
	// thousand metrics, one write each, takes milliseconds, and is
	// written in one or a few updates rather than one per read. Only a
	// writer that never pauses for gatherPause makes lines wait that long.
	maxGather = 5 * time.Millisecond
)

func newGatherReader(r io.Reader) *gatherReader {
	g := &gatherReader{r: r}
	f, ok := r.(*os.File)
	if !ok {
		return g
	}
	if p := pollable(f); p != nil {
		g.r, g.polled, f = p, p, p
	}
	if rc, err := f.SyscallConn(); err == nil {
		g.fd = rc
	}
	return g
}

// pollable returns a pipe (stdin under Telegraf) as a file the runtime's
// poller reads, or nil. Read in blocking mode, every wait for input parks
// an OS thread in read(2) and the runtime hands its P to another thread
// meanwhile: under execd's write per metric, several thread switches per
// read (the pipeline profile: half of redis-output's CPU in the kernel,
// switching tasks). The copy is a dup of the descriptor; O_NONBLOCK is set
// on the pipe's open file, which no one else reads (cleared again by
// close).
func pollable(f *os.File) *os.File {
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	dup := -1
	if err := rc.Control(func(fd uintptr) {
		if d, err := syscall.Dup(int(fd)); err == nil {
			syscall.CloseOnExec(d)
			dup = d
		}
	}); err != nil || dup < 0 {
		return nil
	}
	// Room for a whole Telegraf flush (a thousand metrics of a few
	// hundred bytes): the writer never waits on us within one, however
	// long the pauses. Where the kernel allows less, the pipe stays as
	// it is.
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(dup), syscall.F_SETPIPE_SZ, pipeSize)
	if err := syscall.SetNonblock(dup, true); err != nil {
		syscall.Close(dup)
		return nil
	}
	return os.NewFile(uintptr(dup), f.Name())
}

// close undoes pollable: the pipe is left as it was found, blocking.
func (g *gatherReader) close() {
	if g.polled == nil {
		return
	}
	if rc, err := g.polled.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = syscall.SetNonblock(int(fd), false) })
	}
	g.polled.Close()
}

func (g *gatherReader) Read(p []byte) (int, error) {
	waiting := g.more()
	if !waiting && g.burst {
		// The writer stopped: between two writes of a flush (it had
		// other work), or at its end. A pause tells them apart.
		time.Sleep(gatherPause)
		waiting = g.more()
	}
	if g.beforeRead != nil {
		g.beforeRead(waiting && g.burst)
	}
	n, err := g.r.Read(p)
	// Less than asked for: the reader keeps up, and the lines are
	// decoded as they come rather than handed to the decoders.
	g.trickle = err == nil && n > 0 && n < len(p)
	// Many lines at once, and more were there before the read: Telegraf
	// is writing a flush. A line or two at a time is a trickle, each
	// line written as soon as read.
	g.burst = waiting && n >= burstBytes
	switch {
	case !g.trickle:
	case g.burst:
		time.Sleep(burstPause)
	case n < 16<<10:
		time.Sleep(gatherPause)
	}
	return n, err
}

// more tells whether input is known to be waiting: the writer is still
// writing (a pipe holds bytes), or a file goes on. Unknown is no.
func (g *gatherReader) more() bool {
	if g.fd == nil {
		return false
	}
	var n int32 // FIONREAD writes an int
	var errno syscall.Errno
	if err := g.fd.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	}); err != nil || errno != 0 {
		return false
	}
	return n > 0
}

func (u *run) newChunk(free chan *chunk) *chunk {
	c := <-free
	c.data, c.ends, c.lineNos, c.errs = c.data[:0], c.ends[:0], c.lineNos[:0], c.errs[:0]
	c.lines, c.metrics, c.rejected = 0, 0, 0
	c.flush = false
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
	// readSource: when the reader may wait (see cutChunks).
	if due || full || (u.r.FlushInterval == 0 && c.flush) {
		u.signal()
	}
	if full {
		u.waitForRoom()
	}
	return true
}
