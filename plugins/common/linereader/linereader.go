// Package linereader splits standard input into lines of any length up to
// a limit, counting them, so a decoder can name the line it refuses. A line
// over the limit is skipped as a whole and reported; the lines after it are
// read as usual.
package linereader

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultMax is the longest line accepted unless configured otherwise: a
// large Telegraf batch (use_batch_format) fits.
const DefaultMax = 64 << 20

// keepBelow is the buffer size kept between lines; a buffer grown for one
// huge line is given back rather than held for the life of the process.
const keepBelow = 1 << 20

// TooLongError reports a skipped line.
type TooLongError struct {
	Line int64
	Max  int
	Head []byte // the line's first bytes, for the log
}

func (e *TooLongError) Error() string {
	return fmt.Sprintf("line is longer than %d bytes, skipped", e.Max)
}

// Reader reads lines from an io.Reader.
type Reader struct {
	r      *bufio.Reader
	max    int
	buf    []byte
	line   int64
	offset int64 // bytes consumed, up to the end of the last line returned
}

// New reads from r; limit <= 0 means DefaultMax.
func New(r io.Reader, limit int) *Reader {
	if limit <= 0 {
		limit = DefaultMax
	}
	return &Reader{r: bufio.NewReaderSize(r, 256<<10), max: limit}
}

// Line is the number (from 1) of the line Next returned last.
func (r *Reader) Line() int64 { return r.line }

// Buffered is the number of bytes read from the source and not yet
// returned as lines: at zero, the next call to Next may wait for input.
func (r *Reader) Buffered() int { return r.r.Buffered() }

// Offset is the number of bytes consumed so far, up to and including the
// end of the line Next returned last (or skipped).
func (r *Reader) Offset() int64 { return r.offset }

// WouldWait reports whether Next would have to read from the source: no
// whole line is buffered. Reading stdin, that is the moment the writer's
// burst (one Telegraf flush) has been read whole.
func (r *Reader) WouldWait() bool {
	b, err := r.r.Peek(r.r.Buffered()) // fails only past what is buffered
	return err != nil || bytes.IndexByte(b, '\n') < 0
}

// Next returns the next line without its "\n" or "\r\n". The slice is
// valid until the next call. At the end it returns io.EOF (a last line
// without a newline is returned first). A line longer than the limit is
// consumed and reported as *TooLongError; call Next again to go on.
func (r *Reader) Next() ([]byte, error) {
	if cap(r.buf) > keepBelow {
		r.buf = nil
	}
	r.buf = r.buf[:0]
	tooLong := false
	var head []byte
	for {
		chunk, err := r.r.ReadSlice('\n')
		r.offset += int64(len(chunk))
		if !tooLong {
			limit := r.max + 2 // the line ending is not counted
			if r.line == 0 {
				limit += len(bom) // nor a byte-order mark on the first line
			}
			if len(r.buf)+len(chunk) > limit {
				tooLong = true
				head = append(head, r.buf[:min(len(r.buf), 100)]...)
				if len(head) < 100 {
					head = append(head, chunk[:min(len(chunk), 100-len(head))]...)
				}
				r.buf = r.buf[:0]
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			r.line++
			if tooLong {
				return nil, &TooLongError{Line: r.line, Max: r.max, Head: head}
			}
			line := r.trimBOM(trimEOL(r.buf))
			if len(line) > r.max {
				return nil, &TooLongError{Line: r.line, Max: r.max, Head: line[:min(len(line), 100)]}
			}
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(r.buf) == 0 && !tooLong {
				return nil, io.EOF
			}
			r.line++
			if tooLong {
				return nil, &TooLongError{Line: r.line, Max: r.max, Head: head}
			}
			return r.trimBOM(trimEOL(r.buf)), nil
		default:
			return nil, err
		}
	}
}

// bom is the UTF-8 byte-order mark some editors and Windows tools put at
// the start of a file: it is no part of the first line's content.
var bom = []byte{0xEF, 0xBB, 0xBF}

// trimBOM drops a byte-order mark from the first line only (the offset
// still counts it); anywhere else it is the line's own bytes.
func (r *Reader) trimBOM(line []byte) []byte {
	if r.line == 1 {
		return bytes.TrimPrefix(line, bom)
	}
	return line
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}
