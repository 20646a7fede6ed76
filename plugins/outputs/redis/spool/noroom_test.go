package spool

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/tmpfs"
)

// testLog keeps what the spool logs.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) add(s string)                      { l.mu.Lock(); l.lines = append(l.lines, s); l.mu.Unlock() }
func (l *testLog) Errorf(f string, a ...interface{}) { l.add("E! " + fmt.Sprintf(f, a...)) }
func (l *testLog) Warnf(f string, a ...interface{})  { l.add("W! " + fmt.Sprintf(f, a...)) }
func (l *testLog) Infof(f string, a ...interface{})  { l.add("I! " + fmt.Sprintf(f, a...)) }

func (l *testLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hundred is lines from..to-1 of a hundred bytes each.
func hundred(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%099d\n", i)
	}
	return b.String()
}

// lineReader reads a tee as redis-output's reader does, line by line,
// keeping the offset after the last line: what a flusher would commit
// once the lines are in Redis.
type lineReader struct {
	mu   sync.Mutex
	got  strings.Builder
	end  int64
	err  error
	done chan struct{}
	// backlog, once set, is redis-output's max_undelivered_metrics: the
	// reader waits while more than that many bytes are not committed.
	backlog atomic.Int64
}

func readLines(s *Spool, r io.Reader) *lineReader {
	lr := &lineReader{end: s.End(), done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		br := bufio.NewReaderSize(r, 16<<10)
		for {
			line, err := br.ReadString('\n')
			lr.mu.Lock()
			if strings.HasSuffix(line, "\n") {
				lr.got.WriteString(line)
				lr.end += int64(len(line))
			}
			end := lr.end
			lr.mu.Unlock()
			for limit := lr.backlog.Load(); limit > 0 && end-s.Start() > limit; limit = lr.backlog.Load() {
				time.Sleep(100 * time.Microsecond)
			}
			if err != nil {
				if err != io.EOF {
					lr.mu.Lock()
					lr.err = err
					lr.mu.Unlock()
				}
				return
			}
		}
	}()
	return lr
}

// backlog is what the tests' reader holds, read and not in Redis, once
// Redis is up: an eighth of their disk, so that the disk fills only while
// Redis is down.
const backlog = 32 << 10

func (lr *lineReader) offset() int64 { lr.mu.Lock(); defer lr.mu.Unlock(); return lr.end }

// commitAll commits what lr read, as a flusher with Redis up would, until
// lr is done; then it checks what lr read.
func (lr *lineReader) commitAll(t *testing.T, s *Spool, want string) {
	t.Helper()
	lr.backlog.Store(backlog)
	for {
		select {
		case <-lr.done:
			if err := s.Commit(lr.offset()); err != nil {
				t.Fatal(err)
			}
			if lr.err != nil || lr.got.String() != want {
				t.Fatalf("read %d bytes (%v), want %d", lr.got.Len(), lr.err, len(want))
			}
			return
		case <-time.After(time.Millisecond):
			if err := s.Commit(lr.offset()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// lastByte is the last byte of the spool's data on disk.
func lastByte(t *testing.T, dir string) byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	for i := len(names) - 1; i >= 0; i-- {
		b, err := os.ReadFile(names[i])
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 {
			return b[len(b)-1]
		}
	}
	t.Fatal("no data on disk")
	return 0
}

// stalls fails unless cond stays false over a short window: the reader
// waits, it does not read on.
func stalls(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			t.Fatalf("%s", what)
		}
	}
}

const fullW = "W! spool_dir "

// TestNoRoomFromAPipeIntegration: from a pipe (splice), a full disk is back-pressure.
// The disk fills in the middle of a line; nothing more leaves the pipe
// while what was read is not in Redis; once it is, the spool gives its
// room back and goes on, and every byte comes out once, in order. One W!,
// one I!. It used to end the reading with "no space left on device".
func TestNoRoomFromAPipeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	fs := tmpfs.Mount(t, "size=256k")
	dir := filepath.Join(fs, "spool")
	s, err := Open(dir, 1<<30, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log := &testLog{}
	s.Log = log
	want := hundred(0, 10000) // 1 MB through a 256 KiB disk
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	go func() {
		if _, err := pw.WriteString(want); err != nil {
			t.Error(err)
		}
		pw.Close()
	}()
	r := s.Tee(pr)
	if r.(*tee).pipe == nil {
		t.Fatal("a pipe not seen as one")
	}
	lr := readLines(s, r)

	waitFor(t, "the W! of a full disk", func() bool { return log.count(fullW+dir+" is full (") == 1 })
	if b := lastByte(t, dir); b == '\n' {
		t.Fatal("the disk did not fill in the middle of a line")
	}
	end := s.End()
	stalls(t, "the pipe was read on with no room", func() bool { return s.End() != end })
	if s.Unspooled() != 0 {
		t.Fatalf("%d lines in memory: from a pipe, what finds no room stays in it", s.Unspooled())
	}

	// Redis is back: what was read is committed, and the rest flows.
	lr.commitAll(t, s, want)
	if log.count("W! ") != 1 || log.count("I! spool_dir "+dir+" has room again after ") != 1 || log.count("E! ") != 0 {
		t.Fatalf("log:\n%s", log)
	}
	s.Close()
	s, err = Open(dir, 1<<30, dest)
	if err != nil || s.Held() != 0 {
		t.Fatalf("reopened: %v, %d held", err, s.Held())
	}
	s.Close()
}

// TestNoRoomReadThenWriteIntegration: from a reader that is not a pipe, the bytes of
// the read that found no room are in memory: they are handed on (counted
// by Unspooled until in Redis) and nothing more is read until they are
// in Redis; then the spool gives its room back and goes on.
func TestNoRoomReadThenWriteIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	fs := tmpfs.Mount(t, "size=256k")
	dir := filepath.Join(fs, "spool")
	s, err := Open(dir, 1<<30, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log := &testLog{}
	s.Log = log
	want := hundred(0, 10000)
	// A reader that is no *os.File, read 32 KiB at a time.
	lr := readLines(s, s.Tee(io.LimitReader(strings.NewReader(want), int64(len(want)))))

	waitFor(t, "the W! of a full disk", func() bool { return log.count(fullW+dir+" is full (") == 1 })
	waitFor(t, "the read that found no room handed on", func() bool { return lr.offset() > 0 && s.Unspooled() > 0 })
	end := s.End()
	stalls(t, "read on with no room", func() bool { return s.End() != end })
	held := s.Unspooled()
	if onDisk := spooled(t, dir); onDisk >= end || held != int64(strings.Count(want[onDisk:end], "\n")+btoi(want[end-1] != '\n')) {
		t.Fatalf("%d bytes read, %d on disk, %d lines counted in memory", end, onDisk, held)
	}

	// Redis takes what was read: the rest flows.
	lr.commitAll(t, s, want)
	if s.Unspooled() != 0 || log.count("W! ") != 1 || log.count("I! spool_dir "+dir+" has room again after ") != 1 || log.count("E! ") != 0 {
		t.Fatalf("%d lines unspooled; log:\n%s", s.Unspooled(), log)
	}
}

func spooled(t *testing.T, dir string) int64 {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		return 0
	}
	st, err := os.Stat(names[len(names)-1])
	if err != nil {
		t.Fatal(err)
	}
	var start int64
	if _, err := fmt.Sscanf(filepath.Base(names[len(names)-1]), "seg-%d.log", &start); err != nil {
		t.Fatal(err)
	}
	return start + st.Size()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestOpenOnAFullDiskIntegration: a spool whose disk is full opens, replays all it
// holds and gives the room back, though each thing Open used to write
// finds no room: the lock's pid (its file emptied), the destination
// record (missing: an older version's spool), the newline ending a line
// cut by a kill (at a page's end, so it needs a new page). It used to
// fail at every start, a crash loop under Telegraf.
func TestOpenOnAFullDiskIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	smallSegments(t, 4096)
	fs := tmpfs.Mount(t, "size=128k")
	dir := filepath.Join(fs, "spool")
	s, err := Open(dir, 1<<30, dest)
	if err != nil {
		t.Fatal(err)
	}
	fillLines(t, s, 0, 1000)               // ten-byte lines, in three segments of about 4 KiB
	if err := s.Commit(5000); err != nil { // in the second
		t.Fatal(err)
	}
	s.Close()
	// The last segment ends with a line cut by a kill, at a page's end.
	names, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	last := names[len(names)-1]
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Repeat("x", int(4096-st.Size()%4096))
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(cut); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, name := range []string{"lock", "destination"} {
		if err := os.Truncate(filepath.Join(dir, name), 0); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(dir, "destination"))
	tmpfs.Fill(t, fs)

	s, err = Open(dir, 1<<30, dest)
	if err != nil {
		t.Fatalf("open on a full disk: %v", err)
	}
	defer s.Close()
	log := &testLog{}
	s.Log = log
	if got, want := readAll(t, s), numbered(500, 1000)+cut+"\n"; got != want || s.Start() != 5000 {
		t.Fatalf("replayed %q from %d", got, s.Start())
	}
	if len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "records no destination") {
		t.Fatalf("notes %q", s.Notes)
	}
	// In Redis: the commit file finds no room, the segments go all the same.
	if err := s.Commit(s.End()); err != nil {
		t.Fatal(err)
	}
	if s.Held() != 0 || len(segFiles(t, dir)) != 1 {
		t.Fatalf("after the replay: %d held, segments %v, log:\n%s", s.Held(), segFiles(t, dir), log)
	}
	// Stdin: the newline and the destination record are written first.
	lr := readLines(s, s.Tee(strings.NewReader(numbered(1000, 1100))))
	lr.commitAll(t, s, numbered(1000, 1100))
	if got, err := os.ReadFile(filepath.Join(dir, "destination")); err != nil || string(got) != dest {
		t.Fatalf("destination %q", got)
	}
	// The commit file is written once there is room: at the latest when
	// the spool is closed. The room came back at once (no W!), or else
	// was said to.
	end := s.End()
	s.Close()
	if got, err := os.ReadFile(filepath.Join(dir, "committed")); err != nil || string(got) != fmt.Sprintf("%d\n", end) {
		t.Fatalf("committed %q", got)
	}
	if log.count("I! spool_dir "+dir+" has room again") != log.count("W! ") || log.count("E! ") != 0 {
		t.Fatalf("log:\n%s", log)
	}
	s, err = Open(dir, 1<<30, dest)
	if err != nil || s.Held() != 0 || len(s.Notes) != 0 {
		t.Fatalf("reopened: %v, %d held, notes %q", err, s.Held(), s.Notes)
	}
	s.Close()
}

// TestNoRoomForAnyFileIntegration: a file system out of inodes: no segment can be
// made, at Open or later, and draining the spool gives no room back (the
// disk full of something else). Stdin goes through memory, each read
// once the last is in Redis, and nothing is lost; one W!, no I!.
func TestNoRoomForAnyFileIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	fs := tmpfs.Mount(t, "size=1m", "nr_inodes=4") // the root, the spool, its lock, its destination
	dir := filepath.Join(fs, "spool")
	s, err := Open(dir, 1<<30, dest)
	if err != nil {
		t.Fatalf("open without room for a segment: %v", err)
	}
	defer s.Close()
	if files := segFiles(t, dir); len(files) != 0 {
		t.Fatalf("segments %v: the file system has inodes left", files)
	}
	log := &testLog{}
	s.Log = log
	want := hundred(0, 2000)
	lr := readLines(s, s.Tee(strings.NewReader(want)))
	lr.commitAll(t, s, want)
	if log.count(fullW+dir+" is full (") != 1 || log.count("I! ") != 0 || s.Unspooled() != 0 {
		t.Fatalf("%d unspooled; log:\n%s", s.Unspooled(), log)
	}
}

// TestCommitFileUnwritable: a commit file that cannot be written (here
// not for room: its temporary name is taken by a directory) does not hold
// back what is in Redis: the commit stands, the segments below it go, the
// reader is not kept waiting; one E!, and an I! once it is written again.
// A restart before then replays from the first segment held: at least
// once, nothing lost.
func TestCommitFileUnwritable(t *testing.T) {
	smallSegments(t, 100)
	dir := t.TempDir()
	s, err := Open(dir, 200, dest) // at most 200 bytes not in Redis
	if err != nil {
		t.Fatal(err)
	}
	log := &testLog{}
	s.Log = log
	fillLines(t, s, 0, 15)
	if err := s.Commit(100); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "committed.tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The spool takes 200 bytes not in Redis: past them, only commits
	// make room.
	lr := readLines(s, s.Tee(strings.NewReader(numbered(15, 60))))
	lr.commitAll(t, s, numbered(15, 60))
	if s.Start() != 600 || s.Held() != 0 || len(segFiles(t, dir)) != 1 {
		t.Fatalf("start %d held %d segments %v", s.Start(), s.Held(), segFiles(t, dir))
	}
	if got, err := os.ReadFile(filepath.Join(dir, "committed")); err != nil || string(got) != "100\n" {
		t.Fatalf("committed %q", got)
	}
	if log.count("E! spool_dir "+dir+": cannot write the commit file: ") != 1 || len(log.lines) != 1 {
		t.Fatalf("log:\n%s", log)
	}
	fillLines(t, s, 60, 62)
	s.Close()
	// Restarted before the commit file was written again: from the first
	// segment held.
	s, err = Open(dir, 200, dest)
	if err != nil || s.Start() != 600 || readAll(t, s) != numbered(60, 62) {
		t.Fatalf("reopened: %v, start %d", err, s.Start())
	}
	s.Log = log
	if err := os.Remove(filepath.Join(dir, "committed.tmp")); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(s.End()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got, err := os.ReadFile(filepath.Join(dir, "committed")); err != nil || string(got) != "620\n" {
		t.Fatalf("committed %q", got)
	}
}
