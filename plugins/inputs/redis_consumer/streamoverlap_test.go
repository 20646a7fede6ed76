package redis_consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/faultproxy"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// The tests here hold a batch's write to stdout and look at Redis in the
// meantime: the next read (of a full batch) must be on its way, and
// nothing of the held batch acknowledged. Entry i (from 1) has the ID
// "i-0" and the payload "m v=<i>i <i>", so a line names its entry.

// gatedStdout is a stdout that holds the hold-th write until released,
// and fails every write from failFrom on (0: never), as when Telegraf
// went away.
type gatedStdout struct {
	out      syncBuffer
	hold     int
	failFrom int
	held     chan struct{} // closed once the held write waits
	release  chan struct{}

	mu     sync.Mutex
	writes int
	opened sync.Once
}

// open releases the held write (again: no-op).
func (g *gatedStdout) open() { g.opened.Do(func() { close(g.release) }) }

func newGatedStdout(hold, failFrom int) *gatedStdout {
	return &gatedStdout{hold: hold, failFrom: failFrom, held: make(chan struct{}), release: make(chan struct{})}
}

func (g *gatedStdout) Write(p []byte) (int, error) {
	g.mu.Lock()
	g.writes++
	n := g.writes
	g.mu.Unlock()
	if n == g.hold {
		close(g.held)
		<-g.release
	}
	if g.failFrom > 0 && n >= g.failFrom {
		return 0, io.ErrClosedPipe
	}
	return g.out.Write(p)
}

// waitHeld waits until the held write waits.
func (g *gatedStdout) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-g.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the write to hold never came")
	}
}

// addEntries XADDs entries from..to (inclusive), with a field "pad" of pad
// bytes besides the payload when pad > 0.
func addEntries(t *testing.T, srv *redistest.Server, from, to, pad int) {
	t.Helper()
	c := srv.Conn()
	defer c.Close()
	padding := strings.Repeat("x", pad)
	for i := from; i <= to; i++ {
		args := redis.Args{"metrics", fmt.Sprintf("%d-0", i), "payload", fmt.Sprintf("m v=%di %d", i, i)}
		if pad > 0 {
			args = args.Add("pad", padding)
		}
		if err := c.Send("XADD", args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Do(""); err != nil {
		t.Fatal(err)
	}
}

// entriesOut counts how often each entry's line came out.
func entriesOut(t *testing.T, lines []string) map[int]int {
	t.Helper()
	seen := map[int]int{}
	for _, l := range lines {
		var i, ts int
		if _, err := fmt.Sscanf(l, "m v=%di %d", &i, &ts); err != nil || i != ts {
			t.Fatalf("unexpected line %q", l)
		}
		seen[i]++
	}
	return seen
}

// ackedOnlyIfWritten checks the promise: every entry the group delivered
// (up to its last-delivered-id) that is no longer pending, that is every
// acknowledged entry, was written to stdout.
func ackedOnlyIfWritten(t *testing.T, srv *redistest.Server, lines []string) {
	t.Helper()
	c := srv.Conn()
	defer c.Close()
	groups, err := redis.Values(c.Do("XINFO", "GROUPS", "metrics"))
	if err != nil || len(groups) != 1 {
		t.Fatalf("XINFO GROUPS: %v %v", groups, err)
	}
	// The group's fields are not all strings (consumers and pending are
	// integers): read the one wanted by its name.
	info, err := redis.Values(groups[0], nil)
	if err != nil || len(info)%2 != 0 {
		t.Fatalf("XINFO GROUPS entry: %v %v", info, err)
	}
	lastID := ""
	for i := 0; i < len(info); i += 2 {
		if name, _ := info[i].([]byte); string(name) == "last-delivered-id" {
			if lastID, err = redis.String(info[i+1], nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	ms, _, _ := strings.Cut(lastID, "-")
	last, err := strconv.Atoi(ms)
	if err != nil {
		t.Fatalf("last-delivered-id %q: %v", lastID, err)
	}
	pend, err := redis.Values(c.Do("XPENDING", "metrics", "telegraf", "-", "+", 1000000))
	if err != nil {
		t.Fatal(err)
	}
	isPending := map[int]bool{}
	for _, e := range pend {
		id, err := redis.String(e.([]any)[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		ms, _, _ := strings.Cut(id, "-")
		i, err := strconv.Atoi(ms)
		if err != nil {
			t.Fatal(err)
		}
		isPending[i] = true
	}
	out := entriesOut(t, lines)
	for i := 1; i <= last; i++ {
		if !isPending[i] && out[i] == 0 {
			t.Fatalf("entry %d-0 acknowledged and never written (last delivered %d)", i, last)
		}
	}
}

// everyEntryOnce waits until entries 1..n all came out and checks that
// none came out twice.
func everyEntryOnce(t *testing.T, out *syncBuffer, n int) {
	t.Helper()
	waitFor(t, "every entry", func() bool { return len(entriesOut(t, out.Lines())) == n })
	for i, k := range entriesOut(t, out.Lines()) {
		if k != 1 || i < 1 || i > n {
			t.Fatalf("entry %d came out %d times", i, k)
		}
	}
}

func overlapPlugin(t *testing.T, addr string, batch int) (*RedisConsumer, *syncBuffer) {
	t.Helper()
	return newPlugin(t, addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.Group, p.Consumer = "stream", "metrics", "telegraf", "c1"
		p.Block = config.Duration(50 * time.Millisecond)
		p.Timeout = config.Duration(2 * time.Second)
		p.PayloadField, p.BatchSize = "payload", batch
	})
}

// runOn runs p with stdout w until the test ends; done gets Run's result.
func runOn(t *testing.T, p *RedisConsumer, w io.Writer) (cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdin, stdinW := io.Pipe()
	result, finished := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(finished)
		result <- p.Run(ctx, stdin, w, RunOptions{})
	}()
	t.Cleanup(func() {
		cancel()
		stdinW.Close()
		if g, ok := w.(*gatedStdout); ok {
			g.open()
		}
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of the end of the test")
		}
	})
	return cancel, result
}

// While a full batch is written, the next batch is already read (it is
// pending for us), and the batch being written is not acknowledged.
func TestStreamOverlapReadsTheNextBatchWhileWritingIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	addEntries(t, srv, 1, 1000, 0)
	p, _ := overlapPlugin(t, srv.Addr, 100)
	stdout := newGatedStdout(1, 0)
	runOn(t, p, stdout)
	stdout.waitHeld(t)
	waitFor(t, "the next read during the write", func() bool { return pending(t, srv) == 200 })
	ids := pendingIDs(t, srv)
	if len(ids) != 100 || ids[0] != "1-0@c1" || ids[99] != "100-0@c1" {
		t.Fatalf("the batch held in its write is not pending: %v", ids)
	}
	stdout.open()
	everyEntryOnce(t, &stdout.out, 1000)
	waitFor(t, "the last XACK", func() bool { return pending(t, srv) == 0 })
}

// Hostile: a stop while the next read is in flight. Its entries are
// delivered to us already: they are written and acknowledged before Run
// returns, and no read goes out after the stop.
func TestStreamOverlapStopWritesTheReadInFlightIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	addEntries(t, srv, 1, 1000, 0)
	p, _ := overlapPlugin(t, srv.Addr, 100)
	stdout := newGatedStdout(1, 0)
	cancel, done := runOn(t, p, stdout)
	stdout.waitHeld(t)
	waitFor(t, "the next read during the write", func() bool { return pending(t, srv) == 200 })
	cancel()
	stdout.open()
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	everyEntryOnce(t, &stdout.out, 200)
	if got := pending(t, srv); got != 0 {
		t.Fatalf("%d entries left pending", got)
	}
	ackedOnlyIfWritten(t, srv, stdout.out.Lines())
}

// Hostile: the connection is cut while the next read's reply is on its
// way (far larger than socket buffers, so most of it is cut off), with the
// XACK of the batch before. The batch in hand is still written; it is
// acknowledged on the next connection, and the entries of the cut reply
// come back from the pending list: every entry exactly once, none left
// pending.
func TestStreamOverlapReplyCutByAConnectionKillIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	proxy := faultproxy.Start(t, srv.Addr)
	addEntries(t, srv, 1, 3, 32<<20)
	p, logs := overlapPlugin(t, proxy.Addr, 1)
	stdout := newGatedStdout(2, 0)
	runOn(t, p, stdout)
	stdout.waitHeld(t)
	waitFor(t, "the next read during the write", func() bool {
		return strings.Join(pendingIDs(t, srv), " ") == "2-0@c1 3-0@c1"
	})
	proxy.Cut()
	stdout.open()
	everyEntryOnce(t, &stdout.out, 3)
	waitFor(t, "the last XACK", func() bool { return pending(t, srv) == 0 })
	if !strings.Contains(logs.String(), `1 entries still pending for consumer "c1" delivered again`) {
		t.Fatal("the entry of the cut reply did not come back from the pending list")
	}
}

// Hostile: Redis is killed (and comes back from its AOF) while the next
// read is in flight: nothing is lost, nothing acknowledged unwritten.
func TestStreamOverlapRedisKilledIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	addEntries(t, srv, 1, 500, 0)
	p, _ := overlapPlugin(t, srv.Addr, 100)
	p.Timeout = config.Duration(300 * time.Millisecond)
	stdout := newGatedStdout(2, 0) // the read in flight carries the first batch's XACK
	runOn(t, p, stdout)
	stdout.waitHeld(t)
	waitFor(t, "the next read during the write", func() bool {
		ids := pendingIDs(t, srv)
		return pending(t, srv) == 200 && ids[0] == "101-0@c1"
	})
	srv.Restart()
	stdout.open()
	waitFor(t, "every entry", func() bool { return len(entriesOut(t, stdout.out.Lines())) == 500 })
	waitFor(t, "the last XACK", func() bool { return pending(t, srv) == 0 })
	ackedOnlyIfWritten(t, srv, stdout.out.Lines())
}

// Hostile: stdout fails at the write after the overlap began. Run ends
// with the stdout error, and no entry it did not write is acknowledged,
// though a read was in flight.
func TestStreamOverlapStdoutClosedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	addEntries(t, srv, 1, 1000, 0)
	p, _ := overlapPlugin(t, srv.Addr, 100)
	stdout := newGatedStdout(0, 2)
	_, done := runOn(t, p, stdout)
	var se *StdoutError
	if err := result(t, done); !errors.As(err, &se) {
		t.Fatalf("Run: %v", err)
	}
	lines := stdout.out.Lines()
	if out := entriesOut(t, lines); len(out) != 100 {
		t.Fatalf("%d entries written, want the first batch", len(out))
	}
	ackedOnlyIfWritten(t, srv, lines)
	if got := pending(t, srv); got < 100 {
		t.Fatalf("only %d entries pending: the batch that failed is acknowledged", got)
	}
}

// Hostile: the key is deleted while the next read is in flight. The
// entries delivered before are written, the read after the deletion gets
// NOGROUP, the group is created again, and reading goes on.
func TestStreamOverlapKeyDeletedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	addEntries(t, srv, 1, 1000, 0)
	p, logs := overlapPlugin(t, srv.Addr, 100)
	stdout := newGatedStdout(1, 0)
	runOn(t, p, stdout)
	stdout.waitHeld(t)
	waitFor(t, "the next read during the write", func() bool { return pending(t, srv) == 200 })
	srv.Do("DEL", "metrics")
	stdout.open()
	waitFor(t, "the warning", func() bool {
		return strings.Contains(logs.String(), `stream "metrics" is gone (the key was deleted`)
	})
	addEntries(t, srv, 2001, 2001, 0)
	waitFor(t, "the entry after the deletion", func() bool { return entriesOut(t, stdout.out.Lines())[2001] == 1 })
	out := entriesOut(t, stdout.out.Lines())
	for i := 1; i <= 200; i++ {
		if out[i] != 1 {
			t.Fatalf("entry %d delivered before the deletion came out %d times", i, out[i])
		}
	}
	waitFor(t, "the last XACK", func() bool { return pending(t, srv) == 0 })
}

// Hostile: the group is destroyed (XGROUP DESTROY) while a batch is
// written and not yet acknowledged, and the next read is on its way. The
// XACK finds no group (harmless: the batch is written); the read sent
// before the destroy delivers its entries, the one after gets NOGROUP;
// the group is created again after the last entry read, so every entry
// comes out once, none a second time.
func TestStreamOverlapGroupDestroyedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	addEntries(t, srv, 1, 1000, 0)
	p, logs := overlapPlugin(t, srv.Addr, 100)
	stdout := newGatedStdout(1, 0)
	runOn(t, p, stdout)
	stdout.waitHeld(t)
	waitFor(t, "the next read during the write", func() bool { return pending(t, srv) == 200 })
	srv.Do("XGROUP", "DESTROY", "metrics", "telegraf")
	stdout.open()
	waitFor(t, "the warning", func() bool {
		return strings.Contains(logs.String(), `consumer group "telegraf" of stream "metrics" is gone, the stream is not (XGROUP DESTROY?): created the `+
			`group again at 200-0`)
	})
	everyEntryOnce(t, &stdout.out, 1000)
	waitFor(t, "the last XACK", func() bool { return pending(t, srv) == 0 })
}
