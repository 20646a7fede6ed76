package spool

import (
	"io"
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
	s, err := Open(dir, 1<<20)
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

	s, err = Open(dir, 1<<20)
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
	if _, err := s.file.Write([]byte("dd")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = Open(dir, 1<<20)
	if got := readAll(t, s); got != "bb\nccc\ndd\n" {
		t.Fatalf("replay after a cut line %q", got)
	}
	s.Close()
}

func TestSegmentsAreDeletedOnceCommitted(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, 1<<30)
	line := strings.Repeat("x", 1<<20) + "\n"
	for i := 0; i < 40; i++ { // 40 MiB: three segments
		if _, err := io.ReadAll(s.Tee(strings.NewReader(line))); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if len(segs) != 3 {
		t.Fatalf("%d segments", len(segs))
	}
	if err := s.Commit(s.End()); err != nil {
		t.Fatal(err)
	}
	segs, _ = filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if len(segs) != 1 || s.Held() != 0 {
		t.Fatalf("%d segments, %d held after committing all", len(segs), s.Held())
	}
	s.Close()
}

func TestFullSpoolWaits(t *testing.T) {
	s, _ := Open(t.TempDir(), 10)
	r := s.Tee(strings.NewReader(strings.Repeat("y", 30)))
	buf := make([]byte, 10)
	if n, _ := r.Read(buf); n != 10 {
		t.Fatalf("read %d", n)
	}
	done := make(chan struct{})
	go func() { _, _ = r.Read(buf); close(done) }()
	select {
	case <-done:
		t.Fatal("read past the bound")
	case <-time.After(100 * time.Millisecond):
	}
	_ = s.Commit(10)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("commit did not make room")
	}
	s.Close()
}
