package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// smallSegments makes the segments of the spools a test opens size bytes
// long (the last write in a segment may take it past).
func smallSegments(t *testing.T, size int64) {
	old := segmentSize
	segmentSize = size
	t.Cleanup(func() { segmentSize = old })
}

// numbered is lines from..to-1 of ten bytes each: "line 0042\n".
func numbered(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line %04d\n", i)
	}
	return b.String()
}

// fillLines spools lines from..to-1, one write each.
func fillLines(t *testing.T, s *Spool, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		fill(t, s, numbered(i, i+1))
	}
}

// segFiles lists the segment files in dir: name -> size.
func segFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, n := range names {
		st, err := os.Stat(n)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(n)] = st.Size()
	}
	return out
}

func segName(start int64) string { return fmt.Sprintf("seg-%020d.log", start) }

// fiveSegments spools lines 0..49 in segments of 100 bytes, [0,100) to
// [400,500), and one empty at 500.
func fiveSegments(t *testing.T) (string, *Spool) {
	t.Helper()
	smallSegments(t, 100)
	dir := t.TempDir()
	s, err := Open(dir, 1<<20, dest)
	if err != nil {
		t.Fatal(err)
	}
	fillLines(t, s, 0, 50)
	want := map[string]int64{}
	for start := int64(0); start < 500; start += 100 {
		want[segName(start)] = 100
	}
	want[segName(500)] = 0
	if got := segFiles(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	return dir, s
}

// TestCommitInTheSecondSegment: a commit in the middle of the second
// segment deletes the first (wholly in Redis) and keeps the second, and
// the next start replays from exactly there, across the segments.
func TestCommitInTheSecondSegment(t *testing.T) {
	dir, s := fiveSegments(t)
	if got := readAll(t, s); got != numbered(0, 50) {
		t.Fatalf("replay across segments: %q", got)
	}
	if err := s.Commit(150); err != nil { // lines 0..14 are in Redis
		t.Fatal(err)
	}
	files := segFiles(t, dir)
	if _, ok := files[segName(0)]; ok {
		t.Fatalf("the first segment, wholly committed, is still there: %v", files)
	}
	if _, ok := files[segName(100)]; !ok {
		t.Fatalf("the second segment, holding lines not in Redis, was deleted: %v", files)
	}
	s.Close()

	s, err := Open(dir, 1<<20, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Start() != 150 || s.End() != 500 || s.Held() != 350 || len(s.Notes) != 0 {
		t.Fatalf("reopened: start %d end %d held %d, notes %q", s.Start(), s.End(), s.Held(), s.Notes)
	}
	if got := readAll(t, s); got != numbered(15, 50) {
		t.Fatalf("replay from the middle of the second segment: %q", got)
	}
	// Hostile: the commit exactly at a segment's start, then at the end.
	if err := s.Commit(300); err != nil {
		t.Fatal(err)
	}
	if files := segFiles(t, dir); len(files) != 3 || files[segName(300)] != 100 {
		t.Fatalf("after a commit at a segment's start: %v", files)
	}
	fillLines(t, s, 50, 52) // appended after a restart, in the segment at 500
	if err := s.Commit(s.End()); err != nil {
		t.Fatal(err)
	}
	if files := segFiles(t, dir); len(files) != 1 || files[segName(500)] != 20 || s.Held() != 0 {
		t.Fatalf("after committing all: %v, %d held", files, s.Held())
	}
}

// TestCommitOutsideTheDataHeld: the commit file is not trusted past the
// end of the data held (section 2 of issue 19: such an offset dropped all
// of it, silently): it is taken as torn, with a W!, and everything held
// is replayed. Before the first segment held (what a commit file that
// could not be written leaves once segments in Redis are deleted), replay
// starts at that segment.
func TestCommitOutsideTheDataHeld(t *testing.T) {
	cases := []struct {
		content string
		start   int64
		warn    bool
	}{
		{"501\n", 100, true},
		{"99999999999\n", 100, true},
		{"9223372036854775807\n", 100, true},
		{"500\n", 500, false}, // the end: nothing to replay
		{"0\n", 100, false},   // before the first segment
		{"99\n", 100, false},
		{"100\n", 100, false},
		{"150\n", 150, false},
	}
	for _, c := range cases {
		dir, s := fiveSegments(t)
		if err := s.Commit(120); err != nil { // deletes [0,100)
			t.Fatal(err)
		}
		s.Close()
		if err := os.WriteFile(filepath.Join(dir, "committed"), []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, 1<<20, dest)
		if err != nil {
			t.Fatalf("%q: %v", c.content, err)
		}
		if s.Start() != c.start || s.End() != 500 {
			t.Fatalf("%q: start %d end %d, want start %d", c.content, s.Start(), s.End(), c.start)
		}
		if got := readAll(t, s); got != numbered(int(c.start/10), 50) {
			t.Fatalf("%q: replayed %q", c.content, got)
		}
		warned := len(s.Notes) == 1 && strings.HasPrefix(s.Notes[0], "W! spool "+dir+": the commit file says "+strings.TrimSpace(c.content)+", past the "+
			"end of the data held (500)")
		if warned != c.warn || (!c.warn && len(s.Notes) != 0) {
			t.Fatalf("%q: notes %q", c.content, s.Notes)
		}
		// A commit past the end is held to it, in memory and on disk.
		if err := s.Commit(1 << 40); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "committed")); err != nil || s.Start() != 500 || string(got) != "500\n" {
			t.Fatalf("%q: a commit past the end: start %d, file %q", c.content, s.Start(), got)
		}
		s.Close()
	}
}
