package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
)

func spooled(dir string) int64 {
	var n int64
	segs, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		return -1
	}
	for _, s := range segs {
		if st, err := os.Stat(s); err == nil {
			n += st.Size()
		}
	}
	return n
}

// committed is the offset in the spool's commit file, -1 without one.
func committed(dir string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, "committed"))
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSpoolSurvivesSIGKILLIntegration: with spool_dir, what redis-output read is on
// disk before it is decoded. Half the stream reaches Redis; Redis dies;
// the other half is read and held; redis-output is SIGKILLed. The next
// start replays exactly what was not yet in Redis: every metric arrives,
// none twice.
func TestSpoolSurvivesSIGKILLIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	conf := writeConfig(t, fmt.Sprintf(`
[[outputs.redis]]
  address = %q
  timeout = "500ms"
  mode = "stream"
  key = "metrics"
  spool_dir = %q
`, srv.Addr, spoolDir))
	var lines []string
	for i := 0; i < 1000; i++ {
		lines = append(lines, fmt.Sprintf(`{"fields":{"seq":%d},"name":"m","tags":{},"timestamp":%d}`, i, 1795552004+i))
	}

	cmd := exec.Command(binary, "-config", conf)
	stdin := stdinPipe(t, cmd)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stop(t, cmd)
	fmt.Fprintln(stdin, strings.Join(lines[:500], "\n"))
	waitUntil(t, "500 entries in Redis", func() bool {
		n, err := redis.Int(srv.Conn().Do("XLEN", "metrics"))
		return err == nil && n == 500
	})
	half := int64(len(strings.Join(lines[:500], "\n")) + 1)
	waitUntil(t, "the commit of the first half", func() bool { return committed(spoolDir) == half })
	srv.Kill()
	rest := strings.Join(lines[500:], "\n") + "\n"
	fmt.Fprint(stdin, rest)
	all := int64(len(strings.Join(lines, "\n")) + 1)
	waitUntil(t, "the second half in the spool", func() bool { return spooled(spoolDir) >= all })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exited(t, cmd)

	srv.Restart()
	again := exec.Command(binary, "-config", conf) // stdin: empty, at its end at once
	out, err := again.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "[outputs.redis] replaying") {
		t.Fatalf("no replay said:\n%s", out)
	}
	entries, err := redis.Values(srv.Conn().Do("XRANGE", "metrics", "-", "+"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range entries {
		kv, err := redis.StringMap(e.([]interface{})[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		seen[kv["seq"]]++
	}
	for i := 0; i < 1000; i++ {
		if seen[strconv.Itoa(i)] != 1 {
			t.Fatalf("seq %d arrived %d times (%d entries)\n%s", i, seen[strconv.Itoa(i)], len(entries), out)
		}
	}
	// Everything is in Redis: the spool holds nothing more.
	third, err := exec.Command(binary, "-config", conf).CombinedOutput()
	if err != nil || strings.Contains(string(third), "replaying") {
		t.Fatalf("%v: %s", err, third)
	}
}

// seqLine is metric number i of a test stream.
func seqLine(i int) string {
	return fmt.Sprintf(`{"fields":{"seq":%d},"name":"m","tags":{},"timestamp":%d}`, i, 1795552004+i)
}

func seqLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(seqLine(i))
		b.WriteByte('\n')
	}
	return b.String()
}

var seqRE = regexp.MustCompile(`\bseq=(\d+)\b`)

// listSeqs counts each seq in a list written with data_format influx.
func listSeqs(t *testing.T, srv *redistest.Server, key string) map[int]int {
	t.Helper()
	items, err := redis.Strings(srv.Conn().Do("LRANGE", key, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for _, it := range items {
		m := seqRE.FindStringSubmatch(it)
		if m == nil {
			t.Fatalf("list %s holds %q", key, it)
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatal(err)
		}
		seen[n]++
	}
	return seen
}

func listLen(srv *redistest.Server, key string) int {
	c, err := redis.Dial("tcp", srv.Addr)
	if err != nil {
		return -1
	}
	defer c.Close()
	n, err := redis.Int(c.Do("LLEN", key))
	if err != nil {
		return -1
	}
	return n
}

// exactlyOnce fails unless seen holds each of from..to-1 once.
func exactlyOnce(t *testing.T, what string, seen map[int]int, from, to int) {
	t.Helper()
	if len(seen) != to-from {
		t.Fatalf("%s: %d distinct metrics, want %d", what, len(seen), to-from)
	}
	for i := from; i < to; i++ {
		if seen[i] != 1 {
			t.Fatalf("%s: seq %d arrived %d times", what, i, seen[i])
		}
	}
}

type process struct {
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer
	done   chan error
}

func start(t *testing.T, conf string, stdin io.Reader) *process {
	t.Helper()
	// Info lines too on stderr (-log_info stderr): these tests read the
	// whole log in order; TestEnvironmentSubstitutionAndSIGTERM checks where
	// each level goes by default.
	p := &process{cmd: exec.Command(binary, "-log_info", "stderr", "-config", conf), stderr: &syncbuf.Buffer{}, done: make(chan error, 1)}
	p.cmd.Stdin, p.cmd.Stderr = stdin, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { stop(t, p.cmd); <-p.done })
	return p
}

func (p *process) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("still running after 60s:\n%s", p.stderr)
		return nil
	}
}

func (p *process) kill(t *testing.T) {
	t.Helper()
	signal(t, p.cmd, syscall.SIGKILL)
	if err := p.wait(t); err != nil {
		t.Logf("killed: %v", err)
	}
}

// signal sends sig to cmd; a process that has ended already is no error.
func signal(t *testing.T, cmd *exec.Cmd, sig os.Signal) {
	t.Helper()
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
}

// stop kills cmd if it still runs: deferred, also when the test fails
// first.
func stop(t *testing.T, cmd *exec.Cmd) {
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Error(err)
	}
}

// exited waits for cmd, told to end: how it ended is in its log, which
// the test reads.
func exited(t *testing.T, cmd *exec.Cmd) {
	if err := cmd.Wait(); err != nil {
		t.Logf("exit: %v", err)
	}
}

// output is cmd's combined output; an exit status other than 0 is the
// test's to check.
func output(t *testing.T, cmd *exec.Cmd) []byte {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out
}

// stdinPipe is cmd's stdin, to write to.
func stdinPipe(t *testing.T, cmd *exec.Cmd) io.WriteCloser {
	t.Helper()
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func listConfig(t *testing.T, addr, key, spoolDir string) string {
	return writeConfig(t, fmt.Sprintf(`
[[outputs.redis]]
  address = %q
  timeout = "500ms"
  mode = "list"
  key = %q
  flush_interval = "20ms"
  spool_dir = %q
`, addr, key, spoolDir))
}

// TestSpoolSharedByTwoProcessesIntegration is issue 11's reproduction. A writes list
// sp4a to a Redis that is down, B writes sp4b to a running one, both with
// the same spool_dir. B used to replay A's 3,000 metrics into sp4b, and
// A's were lost after a kill -9 of A. Now B waits without reading stdin
// while A holds the spool, then while the spool holds A's data; A's
// restart delivers them to sp4a; B goes on once the spool is empty.
func TestSpoolSharedByTwoProcessesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srvA := redistest.Start(t, "--appendonly", "yes")
	srvA.Kill() // A's Redis is down
	srvB := redistest.Start(t)
	spoolDir := filepath.Join(t.TempDir(), "spool")
	confA := listConfig(t, srvA.Addr, "sp4a", spoolDir)
	confB := listConfig(t, srvB.Addr, "sp4b", spoolDir)

	inA := seqLines(0, 3000)
	a := start(t, confA, strings.NewReader(inA))
	waitUntil(t, "A's 3000 metrics in the spool", func() bool { return spooled(spoolDir) >= int64(len(inA)) })

	bIn, bW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer bW.Close()
	b := start(t, confB, bIn)
	bIn.Close()
	if _, err := bW.WriteString(seqLines(10000, 10100)); err != nil { // fits in the pipe: nobody need read it
		t.Fatal(err)
	}
	busy := fmt.Sprintf("E! [outputs.redis] spool_dir %s is in use by another process (pid %d on ", spoolDir, a.cmd.Process.Pid)
	waitUntil(t, "B's error naming A", func() bool { return strings.Contains(b.stderr.String(), busy) })
	if !strings.Contains(b.stderr.String(), "not reading stdin until it is free") || listLen(srvB, "sp4b") != 0 {
		t.Fatalf("B:\n%s", b.stderr)
	}

	a.kill(t)
	foreign := fmt.Sprintf("E! [outputs.redis] spool_dir %s holds %d bytes read for another destination (redis %s; mode list; key sp4a;",
		spoolDir, len(inA), srvA.Addr)
	waitUntil(t, "B's error about A's data", func() bool { return strings.Contains(b.stderr.String(), foreign) })
	if n := listLen(srvB, "sp4b"); n != 0 {
		t.Fatalf("B wrote %d entries while the spool held A's data:\n%s", n, b.stderr)
	}

	// Telegraf restarts A; its Redis is back.
	srvA.Restart()
	a = start(t, confA, strings.NewReader(seqLines(3000, 3010)))
	if err := a.wait(t); err != nil {
		t.Fatalf("A again: %v\n%s", err, a.stderr)
	}
	exactlyOnce(t, "sp4a", listSeqs(t, srvA, "sp4a"), 0, 3010)

	// The spool is empty: B takes it over and reads its stdin.
	waitUntil(t, "B's 100 metrics", func() bool { return listLen(srvB, "sp4b") == 100 })
	bW.Close()
	if err := b.wait(t); err != nil {
		t.Fatalf("B: %v\n%s", err, b.stderr)
	}
	exactlyOnce(t, "sp4b", listSeqs(t, srvB, "sp4b"), 10000, 10100)
	log := b.stderr.String()
	if !strings.Contains(log, "I! [outputs.redis] spool "+spoolDir+" was for redis "+srvA.Addr) ||
		!strings.Contains(log, "I! [outputs.redis] spool_dir "+spoolDir+" is ours now") {
		t.Fatalf("B:\n%s", log)
	}
	if n, err := redis.Int(srvA.Conn().Do("EXISTS", "sp4b")); err != nil || n != 0 {
		t.Fatal("B wrote to A's Redis")
	}
}

// TestStopWhileWaitingForTheSpoolIntegration: Telegraf stops a process kept from its
// spool: stdin (closed by Telegraf first) is read to its end and written
// to Redis without the spool; nothing Telegraf wrote is dropped.
func TestStopWhileWaitingForTheSpoolIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	spoolDir := filepath.Join(t.TempDir(), "spool")
	hold, holdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer holdW.Close() // the first process's stdin stays open: it keeps the spool
	holder := start(t, listConfig(t, srv.Addr, "first", spoolDir), hold)
	hold.Close()
	waitUntil(t, "the first process holding the spool", func() bool {
		b, err := os.ReadFile(filepath.Join(spoolDir, "lock"))
		return err == nil && strings.HasPrefix(string(b), fmt.Sprintf("pid %d ", holder.cmd.Process.Pid))
	})
	in, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := start(t, listConfig(t, srv.Addr, "second", spoolDir), in)
	in.Close()
	waitUntil(t, "the wait", func() bool { return strings.Contains(p.stderr.String(), "is in use by another process") })
	if _, err := w.WriteString(seqLines(0, 50)); err != nil {
		t.Fatal(err)
	}
	w.Close() // Telegraf closes stdin, then signals
	signal(t, p.cmd, syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Fatalf("%v\n%s", err, p.stderr)
	}
	exactlyOnce(t, "second", listSeqs(t, srv, "second"), 0, 50)
	if !strings.Contains(p.stderr.String(), "W! [outputs.redis] stopped before spool_dir "+spoolDir+" was free") {
		t.Fatalf("log:\n%s", p.stderr)
	}
}

// TestTornCommitFileIsReplayedFromIntegration: a commit file left empty (as a machine
// crash can) used to stop redis-output at every start, a crash loop under
// Telegraf; now it warns and replays all it holds: at least once.
func TestTornCommitFileIsReplayedFromIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	spoolDir := filepath.Join(t.TempDir(), "spool")
	conf := listConfig(t, srv.Addr, "torn", spoolDir)
	if err := start(t, conf, strings.NewReader(seqLines(0, 100))).wait(t); err != nil {
		t.Fatal(err)
	}
	if committed(spoolDir) <= 0 {
		t.Fatal("nothing committed")
	}
	srv.Kill()
	p := start(t, conf, strings.NewReader(seqLines(100, 200)))
	waitUntil(t, "the second hundred in the spool", func() bool { return spooled(spoolDir) >= int64(len(seqLines(0, 200))) })
	p.kill(t)
	if err := os.WriteFile(filepath.Join(spoolDir, "committed"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	p = start(t, conf, nil)
	if err := p.wait(t); err != nil {
		t.Fatalf("%v\n%s", err, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "W! [outputs.redis] spool "+spoolDir+": the commit file is empty or torn: replaying all") {
		t.Fatalf("log:\n%s", p.stderr)
	}
	seen := listSeqs(t, srv, "torn")
	for i := 0; i < 200; i++ {
		if want := 1 + btoi(i < 100); seen[i] != want {
			t.Fatalf("seq %d arrived %d times, want %d\n%s", i, seen[i], want, p.stderr)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSpoolSurvivesRandomSIGKILLsIntegration kills redis-output with SIGKILL at random
// moments of its read, spool, write and commit cycle, over and over, and
// restarts it as Telegraf would. Each process gets its own pipe, and the
// test, which keeps the pipe's read end too, takes back what a dead
// process left in it and writes it to the next (Telegraf would not: what
// sits in a dead process's pipe is lost to any design; a line cut in two
// is written again whole, as Telegraf retries a write that failed). So
// every metric must arrive, and only the metrics of a write that reached
// Redis before a kill and whose commit did not may arrive twice: at most
// max_undelivered_metrics (+1 for the line that overfills it) per kill.
func TestSpoolSurvivesRandomSIGKILLsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	spoolDir := filepath.Join(t.TempDir(), "spool")
	const maxUndelivered = 200
	conf := writeConfig(t, fmt.Sprintf(`
[[outputs.redis]]
  address = %q
  mode = "list"
  key = "kills"
  flush_interval = "5ms"
  metric_batch_size = 50
  max_undelivered_metrics = %d
  spool_dir = %q
`, srv.Addr, maxUndelivered, spoolDir))
	const total = 40000
	lines := make([]string, total)
	for i := range lines {
		lines[i] = seqLine(i) + "\n"
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 11))
	t.Logf("seed %d", seed)

	next, kills, cut := 0, 0, 0
	var logs strings.Builder
	budget := time.Now().Add(20 * time.Second)
	for kills < 60 && next < total && time.Now().Before(budget) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p := start(t, conf, pr)
		chunk := lines[next:min(total, next+100+rng.IntN(2000))]
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
		time.Sleep(time.Duration(rng.IntN(150_000)) * time.Microsecond) // the random moment
		p.kill(t)
		kills++
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
		for next < total && consumed >= int64(len(lines[next])) {
			consumed -= int64(len(lines[next]))
			next++
		}
		if consumed > 0 {
			cut++ // lines[next] was cut: written again whole
		}
	}
	if kills < 10 {
		t.Fatalf("only %d kills in the time allowed", kills)
	}
	last := start(t, conf, strings.NewReader(strings.Join(lines[next:], "")))
	if err := last.wait(t); err != nil {
		t.Fatalf("last run: %v\n%s", err, last.stderr)
	}
	logs.WriteString(last.stderr.String())

	seen := listSeqs(t, srv, "kills")
	extra := 0
	for i := 0; i < total; i++ {
		if seen[i] == 0 {
			t.Fatalf("seq %d lost (after %d kills, seed %d)\n%s", i, kills, seed, tail(logs.String()))
		}
		extra += seen[i] - 1
	}
	if len(seen) != total || extra > kills*(maxUndelivered+1) {
		t.Fatalf("%d distinct, %d extra copies after %d kills (at most %d allowed)", len(seen), extra, kills, kills*(maxUndelivered+1))
	}
	if bad := strings.Count(logs.String(), "E! [outputs.redis] replayed line"); bad > cut {
		t.Fatalf("%d bad replayed lines for %d cut lines\n%s", bad, cut, tail(logs.String()))
	}
	t.Logf("%d kills, %d metrics, %d written twice, %d lines cut", kills, total, extra, cut)
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
