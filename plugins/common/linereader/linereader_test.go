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

// TestByteOrderMarkOnTheFirstLine: a UTF-8 BOM (a file saved by a
// Windows editor, piped in) is no part of the first line; it used to make
// that line a rejected one. Offsets still count its bytes (the spool
// commits by offset). A BOM anywhere else is the line's content.
func TestByteOrderMarkOnTheFirstLine(t *testing.T) {
	r := New(strings.NewReader("\xEF\xBB\xBFa\n\xEF\xBB\xBFb\n"), 10)
	lines, _ := readAll(t, r)
	if len(lines) != 2 || lines[0] != "a" || lines[1] != "\xEF\xBB\xBFb" || r.Offset() != 10 {
		t.Fatalf("lines %q, offset %d", lines, r.Offset())
	}
	// Alone, and on a last line without a newline.
	for in, want := range map[string]string{"\xEF\xBB\xBF": "", "\xEF\xBB\xBF\n": "", "\xEF\xBB\xBFlast": "last", "\xEF\xBBx": "\xEF\xBBx"} {
		lines, _ := readAll(t, New(strings.NewReader(in), 10))
		if len(lines) != 1 || lines[0] != want {
			t.Errorf("%q: %q", in, lines)
		}
	}
	// The mark does not count against the limit.
	if lines, skipped := readAll(t, New(strings.NewReader("\xEF\xBB\xBF0123456789\n"), 10)); len(skipped) != 0 || lines[0] != "0123456789" {
		t.Fatalf("lines %q skipped %v", lines, skipped)
	}
}
