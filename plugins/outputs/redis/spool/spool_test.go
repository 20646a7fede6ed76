package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readAll(t *testing.T, s *Spool) string {
	t.Helper()
	r, err := s.Replay()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppendCommitReplay(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 1<<20, dest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(s.Tee(strings.NewReader("a\nbb\nccc\n"))); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(2); err != nil { // "a\n" is in Redis
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(dir, 1<<20, dest)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s); got != "bb\nccc\n" {
		t.Fatalf("replay %q", got)
	}
	if s.Start() != 2 || s.End() != 9 || s.Held() != 7 {
		t.Fatalf("start %d end %d held %d", s.Start(), s.End(), s.Held())
	}
	// A line cut by a crash is ended, so new bytes do not join it.
	if _, err := s.file.WriteAt([]byte("dd"), s.End()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, 1<<20, dest)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s); got != "bb\nccc\ndd\n" {
		t.Fatalf("replay after a cut line %q", got)
	}
	s.Close()
}

func TestSegmentsAreDeletedOnceCommitted(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 1<<30, dest)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 1<<20) + "\n"
	for i := 0; i < 40; i++ { // 40 MiB: three segments
		if _, err := io.ReadAll(s.Tee(strings.NewReader(line))); err != nil {
			t.Fatal(err)
		}
	}
	segs, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 3 {
		t.Fatalf("%d segments", len(segs))
	}
	if err := s.Commit(s.End()); err != nil {
		t.Fatal(err)
	}
	segs, err = filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || s.Held() != 0 {
		t.Fatalf("%d segments, %d held after committing all", len(segs), s.Held())
	}
	s.Close()
}

func TestFullSpoolWaits(t *testing.T) {
	s, err := Open(t.TempDir(), 10, dest)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Tee(strings.NewReader(strings.Repeat("y", 30)))
	buf := make([]byte, 10)
	if n, err := r.Read(buf); err != nil || n != 10 {
		t.Fatalf("read %d", n)
	}
	done := make(chan struct{})
	go func() {
		if _, err := r.Read(buf); err != nil {
			t.Error(err)
		}
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("read past the bound")
	case <-time.After(100 * time.Millisecond):
	}
	if err := s.Commit(10); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("commit did not make room")
	}
	s.Close()
}

const dest = "address 127.0.0.1:6379\nmode list\nkey a\n"

func fill(t *testing.T, s *Spool, data string) {
	t.Helper()
	if _, err := io.ReadAll(s.Tee(strings.NewReader(data))); err != nil {
		t.Fatal(err)
	}
}

// TestOneProcessPerSpool: a second opener is refused while the first
// holds the directory, with the holder's pid, and gets it once the first
// is closed (or dead: the kernel drops the flock with the process).
func TestOneProcessPerSpool(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir, 1<<20, dest)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, 1<<20, dest)
	var busy *BusyError
	if !errors.As(err, &busy) || busy.Dir != dir || !strings.HasPrefix(busy.Holder, fmt.Sprintf("pid %d on ", os.Getpid())) {
		t.Fatalf("second open: %v", err)
	}
	if !strings.Contains(err.Error(), "spool_dir "+dir+" is in use by another process (pid ") {
		t.Fatalf("message: %v", err)
	}
	a.Close()
	b, err := Open(dir, 1<<20, dest)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	b.Close()
}

// TestNeverReplayedToAnotherDestination: data read for one destination is
// refused by a process writing elsewhere, and left as it was; an empty
// spool is taken over.
func TestNeverReplayedToAnotherDestination(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir, 1<<20, dest)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, a, "x\ny\n")
	a.Close()
	other := "address 127.0.0.1:6379\nmode list\nkey b\n"
	_, err = Open(dir, 1<<20, other)
	var foreign *ForeignError
	if !errors.As(err, &foreign) || foreign.Held != 4 || foreign.Theirs != "address 127.0.0.1:6379; mode list; key a" {
		t.Fatalf("other destination: %v", err)
	}
	// Refused, the spool is untouched and still ours.
	a, err = Open(dir, 1<<20, dest)
	if err != nil || readAll(t, a) != "x\ny\n" {
		t.Fatalf("%v", err)
	}
	if err := a.Commit(a.End()); err != nil {
		t.Fatal(err)
	}
	a.Close()
	// Empty, it is the other's now.
	b, err := Open(dir, 1<<20, other)
	if err != nil || len(b.Notes) != 1 || !strings.HasPrefix(b.Notes[0], "I! ") {
		t.Fatalf("taking over an empty spool: %v %q", err, b.Notes)
	}
	b.Close()
	if got, err := os.ReadFile(filepath.Join(dir, "destination")); err != nil || string(got) != other {
		t.Fatalf("destination %q", got)
	}
}

// TestTornCommitFileIsRecoveredFrom: an empty or torn commit file (what a
// machine crash can leave) replays everything held, with a warning; it
// used to stop the process at every start: a crash loop.
func TestTornCommitFileIsRecoveredFrom(t *testing.T) {
	for _, content := range []string{"", "12", "garbage\n", "-5\n", "\x00\x00\x00\x00"} {
		dir := t.TempDir()
		s, err := Open(dir, 1<<20, dest)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, s, "a\nbb\nccc\n")
		if err := s.Commit(5); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if err := os.WriteFile(filepath.Join(dir, "committed"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err = Open(dir, 1<<20, dest)
		if err != nil {
			t.Fatalf("%q: %v", content, err)
		}
		if got := readAll(t, s); got != "a\nbb\nccc\n" || len(s.Notes) != 1 || !strings.HasPrefix(s.Notes[0], "W! ") {
			t.Fatalf("%q: replay %q, notes %q", content, got, s.Notes)
		}
		s.Close()
	}
}

// TestCommitIsDurable: the commit replaces the file whole through a
// synced temporary file; none is left behind, and the offset read back
// is the one committed.
func TestCommitIsDurable(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 1<<20, dest)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, "a\nbb\n")
	if err := s.Commit(2); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got, err := os.ReadFile(filepath.Join(dir, "committed")); err != nil || string(got) != "2\n" {
		t.Fatalf("committed %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "committed.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
	// A commit that cannot be written stands all the same (it is logged;
	// TestCommitFileUnwritable has the rest): the room it gives back is
	// what the reader may be waiting for.
	s, err = Open(dir, 3, dest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil { //nolint:gosec // the test needs a directory it cannot write in, that it can still list
		t.Fatal(err)
	}
	defer func() {
		if err := os.Chmod(dir, 0o700); err != nil { //nolint:gosec // the directory as t.TempDir made it, so that it can be removed
			t.Error(err)
		}
	}()
	if os.Geteuid() != 0 { // root writes anyway
		if err := s.Commit(5); err != nil || s.Start() != 5 {
			t.Fatalf("commit in a read-only directory: %v, start %d", err, s.Start())
		}
	}
	s.Close()
}

// TestSpliceFromAPipe: from a pipe (stdin under Telegraf), bytes reach the
// spool file by splice(2) and come back out of the reader the same.
func TestSpliceFromAPipe(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 1<<30, dest)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	go func() {
		if _, err := pw.WriteString(want.String()); err != nil {
			t.Error(err)
		}
		pw.Close()
	}()
	r := s.Tee(pr)
	if r.(*tee).pipe == nil {
		t.Fatal("a pipe not seen as one")
	}
	got, err := io.ReadAll(r)
	if err != nil || string(got) != want.String() || s.End() != int64(want.Len()) {
		t.Fatalf("read %d bytes (%v), want %d; end %d", len(got), err, want.Len(), s.End())
	}
	s.Close()
	s, err = Open(dir, 1<<30, dest)
	if err != nil {
		t.Fatal(err)
	}
	if replay := readAll(t, s); replay != want.String() {
		t.Fatalf("replayed %d bytes", len(replay))
	}
	s.Close()
}

// BenchmarkTee moves 4 MiB of 100-byte lines through the spool: from a
// pipe by splice and read back ("pipe"), from the same pipe by read and
// write (what the spool did before, "pipe-read"), and from a plain
// reader; each chunk synced as in production.
func BenchmarkTee(b *testing.B) {
	line := strings.Repeat("x", 99) + "\n"
	data := strings.Repeat(line, 4<<20/len(line))
	for _, from := range []string{"pipe", "pipe-read", "reader"} {
		b.Run(from, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				s, err := Open(b.TempDir(), 1<<30, dest)
				if err != nil {
					b.Fatal(err)
				}
				var in io.Reader = strings.NewReader(data)
				if from != "reader" {
					pr, pw, err := os.Pipe()
					if err != nil {
						b.Fatal(err)
					}
					go func() {
						if _, err := pw.WriteString(data); err != nil {
							b.Error(err)
						}
						pw.Close()
					}()
					in = pr
				}
				t := s.Tee(in)
				if from == "pipe-read" {
					t.(*tee).pipe = nil
				}
				// Read as linereader does: a 256 KiB bufio.Reader.
				n, err := bufio.NewReaderSize(t, 256<<10).WriteTo(io.Discard)
				if err != nil || n != int64(len(data)) {
					b.Fatal(n, err)
				}
				s.Close()
			}
		})
	}
}
