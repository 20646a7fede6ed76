package main

import (
	"errors"
	"fmt"
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
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/tmpfs"
)

// Issue 19, sections 1 and 2: the spool's file system fills up, and a
// commit offset past the end of the data. A tmpfs of a few pages is the
// full disk; the process is bin/redis-output as Telegraf runs it.

// paddedLine is metric number i as a JSON line of 257 bytes with its
// newline (a prime: a page of the disk ends in the middle of a line).
func paddedLine(i int) string {
	head := fmt.Sprintf(`{"fields":{"seq":%d},"name":"m","tags":{"pad":"`, i)
	tail := fmt.Sprintf(`"},"timestamp":%d}`, 1795552004+i)
	return head + strings.Repeat("p", 256-len(head)-len(tail)) + tail + "\n"
}

func paddedLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(paddedLine(i))
	}
	return b.String()
}

// streamSeqs counts each seq in the stream full.
func streamSeqs(t *testing.T, srv *redistest.Server, key string) map[int]int {
	t.Helper()
	entries, err := redis.Values(srv.Conn().Do("XRANGE", key, "-", "+"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for _, e := range entries {
		kv, err := redis.StringMap(e.([]interface{})[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(kv["seq"])
		if err != nil {
			t.Fatalf("stream %s holds %v", key, kv)
		}
		seen[n]++
	}
	return seen
}

func streamConfig(t *testing.T, addr, spoolDir, extra string) string {
	return writeConfig(t, fmt.Sprintf(`
[[outputs.redis]]
  address = %q
  timeout = "500ms"
  mode = "stream"
  key = "full"
  flush_interval = "20ms"
  spool_dir = %q
%s
`, addr, spoolDir, extra))
}

// feed writes data to a new pipe, the process's stdin, counting the
// bytes written; the pipe is closed at the end.
type feed struct {
	r       *os.File
	written atomic.Int64
	done    chan struct{}
}

func feedPipe(t *testing.T, data string) *feed {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	f := &feed{r: pr, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer pw.Close()
		for len(data) > 0 {
			n, err := pw.WriteString(data[:min(len(data), 4096)])
			f.written.Add(int64(n))
			if err != nil {
				return
			}
			data = data[n:]
		}
	}()
	t.Cleanup(func() { pr.Close(); <-f.done })
	return f
}

func count(log, s string) int { return strings.Count(log, s) }

// noErrors fails on any E! line of the plugin but those allowed.
func noErrors(t *testing.T, log string, allowed ...string) {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if !strings.HasPrefix(line, "E! ") {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || strings.Contains(line, a)
		}
		if !ok {
			t.Fatalf("unexpected %q in\n%s", line, tail(log))
		}
	}
}

func fullWarning(dir string) string { return "W! [outputs.redis] spool_dir " + dir + " is full (" }
func roomAgain(dir string) string {
	return "I! [outputs.redis] spool_dir " + dir + " has room again after "
}

// TestSpoolFullDiskIntegration is section 1's reproduction: spool_dir on
// a 1 MiB tmpfs, Redis down, 12,000 lines of 257 bytes (3 MB) piped in,
// Redis back. It used to log "E! reading lines: no space left on device",
// write what was spooled and exit 0: the lines taken from the pipe were
// lost. Now the full disk is back-pressure: one W!, stdin no longer read,
// and once Redis is back every line is in it, once, and the process exits
// 0 with a summary that counts them all (and one I!).
func TestSpoolFullDiskIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	fs := tmpfs.Mount(t, "size=1m")
	srv := redistest.Start(t)
	srv.Kill()
	spoolDir := filepath.Join(fs, "spool")
	conf := streamConfig(t, srv.Addr, spoolDir, "")
	const total = 12000
	in := feedPipe(t, paddedLines(0, total))
	p := start(t, conf, in.r)

	waitUntil(t, "the W! of the full disk", func() bool { return strings.Contains(p.stderr.String(), fullWarning(spoolDir)) })
	// Stdin is no longer read: the spool does not grow, the pipe stays full.
	onDisk := spooled(spoolDir)
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if spooled(spoolDir) != onDisk || in.written.Load() == int64(total*257) {
			t.Fatalf("stdin read on with a full disk: %d bytes spooled, then %d; %d of %d written to the pipe",
				onDisk, spooled(spoolDir), in.written.Load(), total*257)
		}
	}
	select {
	case err := <-p.done:
		t.Fatalf("exited with a full disk (%v):\n%s", err, p.stderr)
	default:
	}

	srv.Restart()
	if err := p.wait(t); err != nil {
		t.Fatalf("%v\n%s", err, tail(p.stderr.String()))
	}
	exactlyOnce(t, "stream full", streamSeqs(t, srv, "full"), 0, total)
	log := p.stderr.String()
	if count(log, "W! [outputs.redis] spool_dir") != 1 || count(log, fullWarning(spoolDir)) != 1 || count(log, roomAgain(spoolDir)) != 1 {
		t.Fatalf("want one W! of the full disk and one I! of room again:\n%s", tail(log))
	}
	if !strings.Contains(log, "I! [outputs.redis] read 12000 lines, 12000 metrics; wrote 12000 metrics in ") || strings.Contains(log, "not written") {
		t.Fatalf("summary:\n%s", tail(log))
	}
	noErrors(t, log)
}

// TestSpoolFullDiskAtStartIntegration: the disk is full at a start with a
// spool to replay, and every write Open used to make needs room: the
// newline ending a line cut by a kill (at a page's end), the lock's pid
// (its file emptied). It used to fail at every start ("E! spool: write
// .../seg-...: no space left on device", rc 1) without replaying what
// would free the disk: a crash loop under Telegraf. Now the spool is
// replayed, its room given back, and stdin spooled after it.
func TestSpoolFullDiskAtStartIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	fs := tmpfs.Mount(t, "size=1m")
	srv := redistest.Start(t)
	srv.Kill()
	spoolDir := filepath.Join(fs, "spool")
	conf := streamConfig(t, srv.Addr, spoolDir, "")
	first := paddedLines(0, 2000)
	p := start(t, conf, feedPipe(t, first).r)
	waitUntil(t, "2000 lines spooled", func() bool { return spooled(spoolDir) == int64(len(first)) })
	p.kill(t)

	// A line cut by the kill ends the last segment at a page's end: its
	// newline needs a page of its own.
	segs, err := filepath.Glob(filepath.Join(spoolDir, "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	last := segs[len(segs)-1]
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	cut := `{"fields":{"seq":`
	n := int(4096 - st.Size()%4096)
	if n < len(cut) {
		n += 4096
	}
	cut += strings.Repeat("9", n-len(cut))
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(cut); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st, err := os.Stat(last); err != nil || st.Size()%4096 != 0 {
		t.Fatalf("the cut line ends at %d, not at a page's end", st.Size())
	}
	if err := os.Truncate(filepath.Join(spoolDir, "lock"), 0); err != nil {
		t.Fatal(err)
	}
	tmpfs.Fill(t, fs)

	srv.Restart()
	p = start(t, conf, feedPipe(t, paddedLines(2000, 4000)).r)
	if err := p.wait(t); err != nil {
		t.Fatalf("%v\n%s", err, tail(p.stderr.String()))
	}
	exactlyOnce(t, "stream full", streamSeqs(t, srv, "full"), 0, 4000)
	log := p.stderr.String()
	if !strings.Contains(log, "I! [outputs.redis] replaying ") || count(log, "E! [outputs.redis] replayed line 2001: ") != 1 {
		t.Fatalf("want the replay and one bad line, the cut one:\n%s", tail(log))
	}
	// The room came back as soon as the replay was in Redis: said, or not
	// (under a second), but never a W! without an I!.
	if count(log, fullWarning(spoolDir)) != count(log, roomAgain(spoolDir)) {
		t.Fatalf("want an I! of room again for each W! of the full disk:\n%s", tail(log))
	}
	noErrors(t, log, "replayed line 2001: ")
}

// TestSpoolCommitFileUnwritableIntegration: the spool holds spool_max_size
// bytes with Redis down (reading stdin waits for commits), and the disk is
// then filled: once Redis is back, the commit file (committed.tmp) finds
// no room. The commit used to be dropped with an E! each time and give no
// room back, so the reader waited for ever: a deadlock with Redis up. Now
// the commit stands in memory, the segments in Redis go, and the rest of
// stdin is spooled and written.
func TestSpoolCommitFileUnwritableIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	fs := tmpfs.Mount(t, "size=2m")
	srv := redistest.Start(t)
	srv.Kill()
	spoolDir := filepath.Join(fs, "spool")
	conf := streamConfig(t, srv.Addr, spoolDir, `  max_line_size = "4KiB"
  spool_max_size = "1028KiB"`)
	const total = 8000
	p := start(t, conf, feedPipe(t, paddedLines(0, total)).r)
	waitUntil(t, "spool_max_size held", func() bool { return spooled(spoolDir) >= 1028<<10 })
	tmpfs.Fill(t, fs)
	if log := p.stderr.String(); strings.Contains(log, fullWarning(spoolDir)) {
		t.Fatalf("the reader found the disk full before the commit file did:\n%s", log)
	}

	srv.Restart()
	if err := p.wait(t); err != nil {
		t.Fatalf("%v\n%s", err, tail(p.stderr.String()))
	}
	exactlyOnce(t, "stream full", streamSeqs(t, srv, "full"), 0, total)
	log := p.stderr.String()
	if count(log, fullWarning(spoolDir)) != count(log, roomAgain(spoolDir)) {
		t.Fatalf("want an I! of room again for each W! of the full disk:\n%s", tail(log))
	}
	noErrors(t, log)
	if committed(spoolDir) != int64(total*257) {
		t.Fatalf("commit file %d at the end, want %d", committed(spoolDir), total*257)
	}
}

var unspooledRE = regexp.MustCompile(`; not written (\d+) lines read from stdin and not spooled \(spool_dir had no room\)`)

// TestSpoolFullDiskStopIntegration: stdin that is not a pipe (a file) is
// read, then spooled; the read that finds no room is held in memory. A
// stop with Redis down loses those lines: the process exits 1, and the
// exit line counts them. Exactly those are missing after a restart: the
// rest is replayed from the spool or read from stdin.
func TestSpoolFullDiskStopIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	fs := tmpfs.Mount(t, "size=1m")
	srv := redistest.Start(t)
	srv.Kill()
	spoolDir := filepath.Join(fs, "spool")
	conf := streamConfig(t, srv.Addr, spoolDir, "")
	const total = 12000
	input := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(input, []byte(paddedLines(0, total)), 0o600); err != nil {
		t.Fatal(err)
	}
	stdin, err := os.Open(input)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	p := start(t, conf, stdin)
	waitUntil(t, "the W! of the full disk", func() bool { return strings.Contains(p.stderr.String(), fullWarning(spoolDir)) })
	signal(t, p.cmd, syscall.SIGTERM)
	err = p.wait(t)
	log := p.stderr.String()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1:\n%s", err, tail(log))
	}
	m := unspooledRE.FindStringSubmatch(log)
	if m == nil || !strings.Contains(log, "lines read from stdin that are neither in Redis nor in spool_dir "+spoolDir) {
		t.Fatalf("no count of the lines lost:\n%s", tail(log))
	}
	lost, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}

	// The rest of the file is stdin for the next start (the offset is
	// shared with the process that read it).
	srv.Restart()
	p = start(t, conf, stdin)
	if err := p.wait(t); err != nil {
		t.Fatalf("%v\n%s", err, tail(p.stderr.String()))
	}
	seen := streamSeqs(t, srv, "full")
	missing := 0
	for i := 0; i < total; i++ {
		switch seen[i] {
		case 0:
			missing++
		case 1:
		default:
			t.Fatalf("seq %d arrived %d times", i, seen[i])
		}
	}
	if lost == 0 || missing != lost || len(seen) != total-missing {
		t.Fatalf("%d lines said lost, %d missing\n%s", lost, missing, tail(log))
	}
}

// TestSpoolDirCannotBeMadeIntegration: a spool_dir not yet made, on a
// file system that has no room for it (no inode left): redis-output used
// to exit at once, and Telegraf to restart it in a loop, losing what it
// wrote into each pipe. Now it waits, not reading stdin, and goes on once
// there is room.
func TestSpoolDirCannotBeMadeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	fs := tmpfs.Mount(t, "size=1m", "nr_inodes=1") // the root only
	srv := redistest.Start(t)
	spoolDir := filepath.Join(fs, "spool")
	conf := streamConfig(t, srv.Addr, spoolDir, "")
	p := start(t, conf, feedPipe(t, paddedLines(0, 100)).r)
	waitUntil(t, "the wait for room", func() bool {
		return strings.Contains(p.stderr.String(), "E! [outputs.redis] spool_dir "+spoolDir+" cannot be made: mkdir "+spoolDir+
			": no space left on device; not reading stdin until there is room")
	})
	if err := syscall.Mount("tmpfs", fs, "tmpfs", syscall.MS_REMOUNT, "nr_inodes=100"); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t); err != nil {
		t.Fatalf("%v\n%s", err, p.stderr)
	}
	exactlyOnce(t, "stream full", streamSeqs(t, srv, "full"), 0, 100)
}

// TestSpoolCommitPastTheEndIntegration is section 2's reproduction: 50
// lines spooled with Redis down, a kill, the commit file set past the end
// of the data, a start with Redis up. Nothing was replayed and nothing
// said; now it is a W! and all 50 lines are replayed.
func TestSpoolCommitPastTheEndIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	for _, offset := range []string{"99999999999", "9223372036854775807"} {
		srv := redistest.Start(t)
		srv.Kill()
		spoolDir := filepath.Join(t.TempDir(), "spool")
		conf := streamConfig(t, srv.Addr, spoolDir, "")
		in := seqLines(0, 50)
		p := start(t, conf, strings.NewReader(in))
		waitUntil(t, "50 lines spooled", func() bool { return spooled(spoolDir) == int64(len(in)) })
		p.kill(t)
		if err := os.WriteFile(filepath.Join(spoolDir, "committed"), []byte(offset+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		srv.Restart()
		p = start(t, conf, nil)
		if err := p.wait(t); err != nil {
			t.Fatalf("%s: %v\n%s", offset, err, p.stderr)
		}
		exactlyOnce(t, "stream full", streamSeqs(t, srv, "full"), 0, 50)
		want := fmt.Sprintf("W! [outputs.redis] spool %s: the commit file says %s, past the end of the data held (%d): taken as torn, replaying all %d bytes",
			spoolDir, offset, len(in), len(in))
		if !strings.Contains(p.stderr.String(), want) {
			t.Fatalf("%s: no W!:\n%s", offset, p.stderr)
		}
	}
}
