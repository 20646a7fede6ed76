package linereader

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t *testing.T, r *Reader) (lines []string, skipped []int64) {
	t.Helper()
	for {
		b, err := r.Next()
		var tl *TooLongError
		switch {
		case errors.Is(err, io.EOF):
			return lines, skipped
		case errors.As(err, &tl):
			skipped = append(skipped, tl.Line)
		case err != nil:
			t.Fatal(err)
		default:
			lines = append(lines, string(b))
		}
	}
}

func TestLinesAndNumbers(t *testing.T) {
	r := New(strings.NewReader("a\r\nbb\n\nlast"), 10)
	lines, skipped := readAll(t, r)
	want := []string{"a", "bb", "", "last"}
	if strings.Join(lines, "|") != strings.Join(want, "|") || len(skipped) != 0 {
		t.Fatalf("got %q skipped %v", lines, skipped)
	}
	if r.Line() != 4 {
		t.Fatalf("line count %d", r.Line())
	}
}

func TestTooLongLineIsSkippedAlone(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	in := "first\n" + long + "\nthird\n" + strings.Repeat("y", 11) + "\n" + strings.Repeat("z", 10) + "\n"
	r := New(strings.NewReader(in), 10)
	lines, skipped := readAll(t, r)
	if strings.Join(lines, "|") != "first|third|zzzzzzzzzz" {
		t.Fatalf("lines %q", lines)
	}
	if len(skipped) != 2 || skipped[0] != 2 || skipped[1] != 4 {
		t.Fatalf("skipped %v", skipped)
	}
}

func TestTooLongLastLineWithoutNewline(t *testing.T) {
	r := New(strings.NewReader("ok\n"+strings.Repeat("x", 500000)), 1000)
	lines, skipped := readAll(t, r)
	if len(lines) != 1 || len(skipped) != 1 || skipped[0] != 2 {
		t.Fatalf("lines %q skipped %v", lines, skipped)
	}
}

func TestLineOfExactlyMax(t *testing.T) {
	big := strings.Repeat("q", 300000)
	lines, skipped := readAll(t, New(strings.NewReader(big+"\r\n"), 300000))
	if len(lines) != 1 || len(lines[0]) != 300000 || len(skipped) != 0 {
		t.Fatalf("got %d lines, skipped %v", len(lines), skipped)
	}
}
