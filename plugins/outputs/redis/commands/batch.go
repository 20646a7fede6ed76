package commands

import (
	"encoding/hex"
	"strconv"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/writer"
)

// command is one Redis command; its arguments are spans of the batch's
// arena, so building a batch allocates only when the arena grows.
type command struct {
	name     string
	from, to int // its args: spans[from:to]
	metrics  int // metrics this command completes (1 on a metric's first command, else 0)
	// extra counts the metrics beyond that one whose value the command
	// writes too (use_batch_format: one value for a key's metrics).
	extra int
	// follows is set on a later command of a metric (LTRIM, PEXPIRE)
	// whose first command is still in the batch: it counts as written
	// only with that one, so that a refused RPUSH is followed by its
	// LTRIM and PEXPIRE once it is written, not preceded by them.
	follows bool
	// since is a spool offset at or before the start of the metric's
	// line (set by the flusher): the spool is committed no further while
	// the command waits for its key.
	since int64
	// idem marks a write made idempotent (option deduplicate): sent as
	// the script of idem.go, with the metric's id.
	idem bool
	id   [16]byte
}

type span struct{ from, to int }

// batch is the batch of the per-metric modes: the commands built
// from each metric, in order, sent as one pipeline.
type batch struct {
	build func(b *batch, m *metricline.Metric) error
	// wait, when > 0, makes a write count only once that many replicas
	// acknowledged it (WAIT); waitMs is WAIT's own timeout.
	wait, waitMs int64
	// progress is the write in progress's writer.Target.Progress.
	progress func(metrics int)

	arena   []byte
	spans   []span
	cmds    []command
	metrics int

	// Building one metric's commands.
	first bool
	argv  []interface{}
	wire  []byte // RESP of the chunk being sent

	// holds, when set (the execd loop), are the keys whose commands Redis
	// refused: their commands wait for their own retry while the others
	// are written (see refusals.go). Without it (built in) a refusal is
	// returned as the write's error.
	holds *holds
	sel   []int // the commands a write sends, in order
	round round // what the write in progress found
	// stamped counts the leading commands whose spool offset is set.
	stamped int

	// grouping, with use_batch_format, holds the metrics by key until
	// seal builds their commands (batchformat.go); refusedAtSeal counts
	// those the serializer refused, for the next Write's Result.
	grouping      *grouping
	refusedAtSeal int

	// idem, when set, makes stream and list writes idempotent (idem.go).
	idem    *idemState
	ids     idHasher
	idArgs  idemArgs
	scratch []byte
	skipped int   // writes of this Write skipped as already applied
	loadErr error // this write's SCRIPT LOAD was refused with it

	// A write's layout (group): its commands in the order sent, the units
	// replies answer, where each chunk's units end; and group's scratch.
	order  []int
	units  []unit
	chunks []int
	keyNo  map[string]int32
	cmdKey []int32
	perKey []keyCount
	// A cluster write's nodes (cluster.go): one per master, kept from
	// write to write with their buffers; used are those of this write.
	nodes, used []*nodeWrite
}

func newBatch(build func(b *batch, m *metricline.Metric) error, wait, waitMs int64, h *holds, idem *idemState) *batch {
	return &batch{build: build, wait: wait, waitMs: waitMs, holds: h, idem: idem}
}

// markIdem makes the command just begun idempotent, with m's id, when
// the batch writes idempotently.
func (b *batch) markIdem(m *metricline.Metric) {
	if b.idem == nil {
		return
	}
	c := &b.cmds[len(b.cmds)-1]
	c.idem, c.id = true, b.ids.id(m)
}

func (b *batch) Add(m *metricline.Metric) error {
	cmds, spans, arena := len(b.cmds), len(b.spans), len(b.arena)
	b.first = true
	if err := b.build(b, m); err != nil {
		// Take back what the metric had added.
		b.cmds, b.spans, b.arena = b.cmds[:cmds], b.spans[:spans], b.arena[:arena]
		return err
	}
	b.metrics++
	return nil
}

// begin starts a command; arguments follow with arg/argBytes.
func (b *batch) begin(name string) {
	c := command{name: name, from: len(b.spans), to: len(b.spans)}
	if b.first {
		c.metrics, b.first = 1, false
	} else {
		c.follows = true
	}
	b.cmds = append(b.cmds, c)
}

// appendArg returns the arena to write one argument into; end closes it.
func (b *batch) argStart() int { return len(b.arena) }

func (b *batch) argEnd(from int) {
	b.spans = append(b.spans, span{from, len(b.arena)})
	b.cmds[len(b.cmds)-1].to = len(b.spans)
}

func (b *batch) arg(s string) {
	from := b.argStart()
	b.arena = append(b.arena, s...)
	b.argEnd(from)
}

func (b *batch) argBytes(s []byte) {
	from := b.argStart()
	b.arena = append(b.arena, s...)
	b.argEnd(from)
}

func (b *batch) Metrics() int { return b.metrics }

func (b *batch) Reset() {
	b.arena, b.spans, b.cmds, b.metrics, b.stamped = b.arena[:0], b.spans[:0], b.cmds[:0], 0, 0
	b.grouping.reset()
}

func (b *batch) Absorb(newer writer.Batch) {
	n := newer.(*batch)
	b.seal()
	n.seal()
	b.refusedAtSeal += n.refusedAtSeal
	n.refusedAtSeal = 0
	arena, spans := len(b.arena), len(b.spans)
	b.arena = append(b.arena, n.arena...)
	for _, s := range n.spans {
		b.spans = append(b.spans, span{s.from + arena, s.to + arena})
	}
	for _, c := range n.cmds {
		c.from += spans
		c.to += spans
		b.cmds = append(b.cmds, c)
	}
	b.metrics += n.metrics
	n.Reset()
}

func (b *batch) args(c command) []interface{} {
	b.argv = b.argv[:0]
	for _, s := range b.spans[c.from:c.to] {
		b.argv = append(b.argv, b.arena[s.from:s.to])
	}
	return b.argv
}

// unit is what one reply answers: a command, or the script call that
// makes a key's idempotent writes of a chunk (its commands b.order[from:to]).
type unit struct {
	from, to int
	script   bool
}

// group lays the commands sel out for a write: in chunks of at most
// PipelineChunk commands (b.chunks holds where each chunk's units end);
// with idempotent writes, a chunk's writes to one key are gathered into
// one script call, followed by that key's other commands (LTRIM, PEXPIRE)
// in their order. Commands of one key keep their order; those of
// different keys need none.
func (b *batch) group(sel []int) {
	b.order, b.units, b.chunks = b.order[:0], b.units[:0], b.chunks[:0]
	b.groupMore(sel)
}

// groupMore is group for sel after the layout already made: a cluster
// write lays out each node's commands after the previous node's.
func (b *batch) groupMore(sel []int) {
	for start := 0; start < len(sel); start += PipelineChunk {
		chunk := sel[start:min(start+PipelineChunk, len(sel))]
		if b.idem == nil {
			for _, i := range chunk {
				b.units = append(b.units, unit{from: len(b.order), to: len(b.order) + 1})
				b.order = append(b.order, i)
			}
			b.chunks = append(b.chunks, len(b.units))
			continue
		}
		b.groupChunk(chunk)
		b.chunks = append(b.chunks, len(b.units))
	}
}

// groupChunk appends the units of one chunk: per key, in the order keys
// first appear, the script call of its writes and then its other commands.
func (b *batch) groupChunk(chunk []int) {
	if b.keyNo == nil {
		b.keyNo = make(map[string]int32)
	}
	clear(b.keyNo)
	b.cmdKey = b.cmdKey[:0]
	b.perKey = b.perKey[:0]
	for _, i := range chunk {
		key := b.key(i)
		k, ok := b.keyNo[string(key)]
		if !ok {
			k = int32(len(b.perKey))
			b.keyNo[string(key)] = k
			b.perKey = append(b.perKey, keyCount{})
		}
		b.cmdKey = append(b.cmdKey, k)
		if b.cmds[i].idem {
			b.perKey[k].idem++
		} else {
			b.perKey[k].other++
		}
	}
	base := len(b.order)
	for k := range b.perKey {
		c := &b.perKey[k]
		c.at, c.next = base, base+c.idem
		base += c.idem + c.other
	}
	b.order = append(b.order, chunk...) // grown to size; placed below
	for j, i := range chunk {
		c := &b.perKey[b.cmdKey[j]]
		if b.cmds[i].idem {
			b.order[c.at+c.placed] = i
			c.placed++
		} else {
			b.order[c.next] = i
			c.next++
		}
	}
	for k := range b.perKey {
		c := &b.perKey[k]
		if c.idem > 0 {
			b.units = append(b.units, unit{from: c.at, to: c.at + c.idem, script: true})
		}
		for o := c.at + c.idem; o < c.at+c.idem+c.other; o++ {
			b.units = append(b.units, unit{from: o, to: o + 1})
		}
	}
}

// keyCount is one key's part of a chunk being grouped.
type keyCount struct {
	idem, other int
	at          int // where its commands start in b.order
	placed      int // idempotent writes placed so far
	next        int // where its next other command goes
}

// call is unit u as redigo sends it.
func (b *batch) call(u unit) (string, []interface{}) {
	if !u.script {
		c := b.cmds[b.order[u.from]]
		return c.name, b.args(c)
	}
	first := b.cmds[b.order[u.from]]
	key := b.arena[b.spans[first.from].from:b.spans[first.from].to]
	argv := []interface{}{idemSHA, 2, key, b.idem.appendMemKey(nil, key),
		b.idArgs.now, b.idArgs.oldest, b.idem.window, b.idem.maxIDs, first.name, u.to - u.from}
	for _, i := range b.order[u.from:u.to] {
		c := b.cmds[i]
		argv = append(argv, hex.EncodeToString(c.id[:]), c.to-c.from-1)
		for _, s := range b.spans[c.from+1 : c.to] {
			argv = append(argv, b.arena[s.from:s.to])
		}
	}
	return "EVALSHA", argv
}

// appendUnit appends unit u as RESP.
func (b *batch) appendUnit(w []byte, u unit) []byte {
	return b.appendUnitTo(w, u, &b.scratch)
}

// appendUnitTo is appendUnit with scratch of its own: nodes of a cluster
// are written in parallel, each by its own goroutine.
func (b *batch) appendUnitTo(w []byte, u unit, scratch *[]byte) []byte {
	if !u.script {
		return b.appendCommand(w, &b.cmds[b.order[u.from]])
	}
	n := idemHead
	for _, i := range b.order[u.from:u.to] {
		c := &b.cmds[i]
		n += 2 + c.to - c.from - 1
	}
	first := &b.cmds[b.order[u.from]]
	key := b.arena[b.spans[first.from].from:b.spans[first.from].to]
	w = append(w, '*')
	w = strconv.AppendInt(w, int64(n), 10)
	w = append(w, "\r\n"...)
	w = appendBulk(w, "EVALSHA")
	w = appendBulk(w, idemSHA)
	w = appendBulk(w, "2")
	w = appendBulk(w, key)
	*scratch = b.idem.appendMemKey((*scratch)[:0], key)
	w = appendBulk(w, *scratch)
	w = appendBulk(w, b.idArgs.now)
	w = appendBulk(w, b.idArgs.oldest)
	w = appendBulk(w, b.idem.window)
	w = appendBulk(w, b.idem.maxIDs)
	w = appendBulk(w, first.name)
	w = appendInt(w, int64(u.to-u.from))
	for _, i := range b.order[u.from:u.to] {
		c := &b.cmds[i]
		w = append(w, "$32\r\n"...)
		w = hex.AppendEncode(w, c.id[:])
		w = append(w, "\r\n"...)
		w = appendInt(w, int64(c.to-c.from-1))
		for _, s := range b.spans[c.from+1 : c.to] {
			w = appendBulk(w, b.arena[s.from:s.to])
		}
	}
	return w
}

// appendCommand appends command c as RESP.
func (b *batch) appendCommand(w []byte, c *command) []byte {
	w = append(w, '*')
	w = strconv.AppendInt(w, int64(c.to-c.from+1), 10)
	w = append(w, "\r\n"...)
	w = appendBulk(w, c.name)
	for _, s := range b.spans[c.from:c.to] {
		w = appendBulk(w, b.arena[s.from:s.to])
	}
	return w
}

func appendBulk[T string | []byte](w []byte, p T) []byte {
	w = append(w, '$')
	w = strconv.AppendInt(w, int64(len(p)), 10)
	w = append(w, "\r\n"...)
	w = append(w, p...)
	return append(w, "\r\n"...)
}

// appendInt appends n as a bulk string of its digits.
func appendInt(w []byte, n int64) []byte {
	var d [20]byte
	return appendBulk(w, strconv.AppendInt(d[:0], n, 10))
}

// startIdem prepares the script's per-write arguments.
func (b *batch) startIdem(now time.Time) {
	b.loadErr = nil
	if b.idem != nil {
		b.idem.args(now, &b.idArgs)
	}
}

// endIdem counts and tells the writes skipped as already applied.
func (b *batch) endIdem() {
	if b.idem == nil || b.skipped == 0 {
		return
	}
	b.idem.skipped.Add(int64(b.skipped))
	if b.idem.log != nil {
		b.idem.log.Infof("skipped %d writes already in Redis (sent before without a reply, or replayed from the spool)", b.skipped)
	}
	b.skipped = 0
}

// keep drops the commands marked done, compacting the batch.
func (b *batch) keep(done []bool) {
	if len(b.cmds) == 0 {
		return
	}
	kept := b.cmds[:0]
	metrics := 0
	mainKept := false // the latest first command of a metric is kept
	for i, c := range b.cmds {
		if c.metrics == 1 {
			mainKept = i >= len(done) || !done[i]
		}
		if i < len(done) && done[i] {
			continue
		}
		if c.follows && !mainKept {
			c.follows = false // its metric's first command is written
		}
		kept = append(kept, c)
		metrics += c.metrics + c.extra
	}
	// A metric whose first command went through but whose later ones did
	// not is still counted, so the backlog does not undercount.
	if len(kept) > 0 && metrics == 0 {
		metrics = 1
	}
	b.cmds = kept
	b.metrics = metrics
	b.stamped = len(kept) // every command written to was stamped at its take
	if len(kept) == 0 {
		b.Reset()
		return
	}
	b.compact()
}

// compact moves the arguments of the commands left (held for their keys,
// or not yet answered) to the front of the arena, once they fill less
// than half of it: commands held for a long time must not keep the
// arena of everything written since.
func (b *batch) compact() {
	live := 0
	for _, c := range b.cmds {
		for _, s := range b.spans[c.from:c.to] {
			live += s.to - s.from
		}
	}
	if live*2 > len(b.arena) {
		return
	}
	// Commands and their spans are in arena order, so each copy goes to
	// a place at or before where it was.
	arena, spans := 0, 0
	for i := range b.cmds {
		c := &b.cmds[i]
		from := spans
		for _, s := range b.spans[c.from:c.to] {
			n := copy(b.arena[arena:], b.arena[s.from:s.to])
			b.spans[spans] = span{arena, arena + n}
			arena += n
			spans++
		}
		c.from, c.to = from, spans
	}
	b.arena, b.spans = b.arena[:arena], b.spans[:spans]
}

// key is the key a command writes (its first argument; a channel for
// PUBLISH): what its order is kept for.
func (b *batch) key(i int) []byte {
	c := b.cmds[i]
	if c.to <= c.from {
		return nil
	}
	s := b.spans[c.from]
	return b.arena[s.from:s.to]
}

// Stamp sets the spool offset of the commands added since the last Stamp.
func (b *batch) Stamp(offset int64) {
	b.seal()
	for j := b.stamped; j < len(b.cmds); j++ {
		b.cmds[j].since = offset
	}
	b.stamped = len(b.cmds)
}

// Since is the spool offset up to which every line is in Redis while
// commands are left: the earliest of theirs.
func (b *batch) Since(end int64) int64 {
	b.seal()
	for _, c := range b.cmds {
		end = min(end, c.since)
	}
	return end
}

func (b *batch) Commands() []string {
	b.seal()
	out := make([]string, 0, len(b.cmds))
	for _, c := range b.cmds {
		words := append([]interface{}{c.name}, b.args(c)...)
		out = append(out, redisconn.FormatCommand(words))
	}
	return out
}

// lastKey is the first argument of the latest write command of the metric
// being built: the key every follow-up command (LTRIM, PEXPIRE) names.
func (b *batch) lastKey() []byte {
	for i := len(b.cmds) - 1; i >= 0; i-- {
		c := b.cmds[i]
		if c.name != "PEXPIRE" && c.name != "LTRIM" && c.to > c.from {
			s := b.spans[c.from]
			return b.arena[s.from:s.to]
		}
	}
	return nil
}
