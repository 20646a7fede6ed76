package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/faultproxy"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// The duplicate counts of issue 22: redis-output with a spool is SIGKILLed
// at random moments, over and over, while Redis is away now and then, or
// while its replies come 100 ms late; every metric must be in the stream
// or list exactly once. Each test states how many writes were sent again
// after they had been applied (the writes deduplicate skipped), and fails
// when there were none: a run without such a retry proves nothing.

// dupCase is one fault test's setup.
type dupCase struct {
	mode    string // "stream" or "list"
	addr    string // where redis-output writes
	lines   int
	kills   int
	moment  time.Duration                  // the random moment of a kill is in [0, moment)
	between func(kill int, rng *rand.Rand) // the fault, after each kill
	// length, when set, is the key's length: every other kill then comes
	// as soon as it grows (a write applied, its commit maybe not yet).
	length func() int
	before func()                         // before the last run
	seqs   func(t *testing.T) map[int]int // each seq written, counted
	extra  string                         // more options
	budget time.Duration                  // time allowed for the kills
}

var skippedRE = regexp.MustCompile(`I! \[outputs\.redis\] skipped (\d+) writes already in Redis \(sent before`)

// skippedWrites sums the writes deduplicate skipped in logs.
func skippedWrites(logs string) int {
	n := 0
	for _, m := range skippedRE.FindAllStringSubmatch(logs, -1) {
		if k, err := strconv.Atoi(m[1]); err == nil {
			n += k
		}
	}
	return n
}

// dupCount is what runKills found.
type dupCount struct {
	missing, dups int // metrics not in Redis, copies too many
	skipped       int // writes skipped as already applied
	kills         int
}

// runKills feeds the lines to redis-output, SIGKILLing and restarting it
// (see TestSpoolSurvivesRandomSIGKILLs: what a dead process left unread in
// its pipe goes to the next one, a line cut in two again whole), then lets
// a last run write the rest and exit.
func runKills(t *testing.T, c dupCase) dupCount {
	t.Helper()
	spoolDir := filepath.Join(t.TempDir(), "spool")
	conf := writeConfig(t, fmt.Sprintf(`
[[outputs.redis]]
  address = %q
  timeout = "2s"
  mode = %q
  key = "dups"
  flush_interval = "5ms"
  metric_batch_size = 50
  max_undelivered_metrics = 200
  spool_dir = %q
  deduplicate = true
%s
`, c.addr, c.mode, spoolDir, c.extra))
	lines := make([]string, c.lines)
	for i := range lines {
		lines[i] = seqLine(i) + "\n"
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 22))
	t.Logf("seed %d", seed)

	var logs strings.Builder
	var n dupCount
	next := 0
	deadline := time.Now().Add(c.budget)
	// c.kills at least; up to three times as many until a kill has landed
	// between a write applied and its commit or reply (a later run then
	// skips it), which a random moment does not always find.
	more := func() bool {
		return n.kills < c.kills || n.kills < 3*c.kills && skippedWrites(logs.String()) == 0
	}
	for more() && next < len(lines) && time.Now().Before(deadline) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p := start(t, conf, pr)
		chunk := lines[next:min(len(lines), next+1+rng.IntN(len(lines)/c.kills))]
		var written atomic.Int64
		var stop atomic.Bool
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			for _, l := range chunk {
				if stop.Load() {
					return
				}
				if _, err := pw.WriteString(l); err != nil {
					return
				}
				written.Add(int64(len(l)))
			}
		}()
		moment := time.Duration(rng.Int64N(int64(c.moment)))
		if c.length != nil && n.kills%2 == 1 {
			// The worst moment: right after Redis applied a write.
			before, until := c.length(), time.Now().Add(moment)
			for c.length() == before && time.Now().Before(until) {
				time.Sleep(200 * time.Microsecond)
			}
		} else {
			time.Sleep(moment)
		}
		p.kill(t)
		n.kills++
		stop.Store(true)
		left := make(chan int)
		go func() {
			b, err := io.ReadAll(pr)
			if err != nil {
				t.Error(err)
			}
			left <- len(b)
		}()
		<-fed
		pw.Close()
		consumed := written.Load() - int64(<-left)
		pr.Close()
		logs.WriteString(p.stderr.String())
		for next < len(lines) && consumed >= int64(len(lines[next])) {
			consumed -= int64(len(lines[next]))
			next++
		}
		if c.between != nil {
			c.between(n.kills, rng)
		}
	}
	if c.before != nil {
		c.before()
	}
	last := start(t, conf, strings.NewReader(strings.Join(lines[next:], "")))
	if err := last.wait(t); err != nil {
		t.Fatalf("last run: %v\n%s", err, last.stderr)
	}
	logs.WriteString(last.stderr.String())

	seen := c.seqs(t)
	for i := range lines {
		switch k := seen[i]; {
		case k == 0:
			n.missing++
			if n.missing == 1 {
				t.Errorf("seq %d lost (seed %d)\n%s", i, seed, tail(logs.String()))
			}
		case k > 1:
			n.dups += k - 1
		}
	}
	n.skipped = skippedWrites(logs.String())
	return n
}

// checkDups holds the counts of runKills at none missing and none twice,
// with at least one write skipped as applied.
func checkDups(t *testing.T, c dupCase) {
	t.Helper()
	n := runKills(t, c)
	t.Logf("%s: %d kills, %d metrics: %d missing, %d written twice; %d writes sent again after they were applied, skipped",
		c.mode, n.kills, c.lines, n.missing, n.dups, n.skipped)
	if n.kills < c.kills/2 {
		t.Fatalf("only %d kills of %d in the time allowed", n.kills, c.kills)
	}
	if n.missing > 0 || n.dups > 0 {
		t.Fatalf("%d missing, %d written twice", n.missing, n.dups)
	}
	if n.skipped == 0 {
		t.Fatalf("no write was sent again after it was applied: the faults missed the moment they are for")
	}
}

func seqsOf(mode string, srv *redistest.Server) func(t *testing.T) map[int]int {
	return func(t *testing.T) map[int]int {
		if mode == "stream" {
			return streamSeqs(t, srv, "dups")
		}
		return listSeqs(t, srv, "dups")
	}
}

// TestNoDuplicatesThroughSIGKILLsDuringOutagesIntegration: 25 SIGKILLs of
// redis-output over 3,000 lines, while Redis (AOF, fsync always) is itself
// SIGKILLed and restarted every few kills: the spool replays what was
// written and not committed, and the writes Redis already had are skipped.
func TestNoDuplicatesThroughSIGKILLsDuringOutagesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	for _, mode := range []string{"stream", "list"} {
		t.Run(mode, func(t *testing.T) {
			srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
			checkDups(t, dupCase{
				mode: mode, addr: srv.Addr, lines: 3000, kills: 25,
				moment: 150 * time.Millisecond, budget: 60 * time.Second,
				between: func(kill int, _ *rand.Rand) {
					switch kill % 5 {
					case 2:
						srv.Kill() // the next runs start with Redis away
					case 4:
						srv.Restart()
					}
				},
				before: func() {
					if !srv.Running() {
						srv.Restart()
					}
				},
				seqs:   seqsOf(mode, srv),
				length: lengthOf(mode, srv),
			})
		})
	}
}

// lengthOf is the length of the test's key, -1 while Redis is away.
func lengthOf(mode string, srv *redistest.Server) func() int {
	cmd := "LLEN"
	if mode == "stream" {
		cmd = "XLEN"
	}
	return func() int {
		c, err := redis.Dial("tcp", srv.Addr, redis.DialConnectTimeout(100*time.Millisecond))
		if err != nil {
			return -1
		}
		defer c.Close()
		n, err := redis.Int(c.Do(cmd, "dups"))
		if err != nil {
			return -1
		}
		return n
	}
}

// TestNoDuplicatesThroughSIGKILLsWithSlowRepliesIntegration: Redis's
// replies are held back 100 ms (a server in another zone), so that most
// kills of redis-output land between a write applied and its reply; 50
// SIGKILLs over 3,000 lines.
func TestNoDuplicatesThroughSIGKILLsWithSlowRepliesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	for _, mode := range []string{"stream", "list"} {
		t.Run(mode, func(t *testing.T) {
			srv := redistest.Start(t)
			proxy := faultproxy.Start(t, srv.Addr)
			proxy.DelayReplies(100 * time.Millisecond)
			checkDups(t, dupCase{
				mode: mode, addr: proxy.Addr, lines: 3000, kills: 50,
				moment: 400 * time.Millisecond, budget: 90 * time.Second,
				seqs: seqsOf(mode, srv),
			})
		})
	}
}
